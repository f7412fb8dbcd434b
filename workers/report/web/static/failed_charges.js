// Failed Charges and the charge record: row selection, and the rows a reprocess request
// replays, followed live (the server-sent events of /live/events, with a poll of the
// request's state while the stream connects, so no answer is missed in between).
"use strict";
(() => {
  const POLL_MS = 4000;
  const POLL_LIMIT = 60; // about four minutes; the live events go on after that

  function setupSelection() {
    const form = document.getElementById("reprocess-form");
    if (!form) return;
    const all = document.getElementById("check-all");
    const boxes = () => [...form.querySelectorAll('input[name="charge_id"]:not(:disabled)')];
    const count = document.getElementById("selected-count");
    const button = document.getElementById("reprocess-selected");
    const update = () => {
      const n = boxes().filter((b) => b.checked).length;
      if (count) count.textContent = n ? `${n} selected` : "";
      if (button) button.textContent = n ? `Reprocess ${n} selected` : "Reprocess selected";
      if (all) {
        all.checked = n > 0 && n === boxes().length;
        all.indeterminate = n > 0 && n < boxes().length;
      }
    };
    if (all) all.addEventListener("change", () => { boxes().forEach((b) => { b.checked = all.checked; }); update(); });
    form.addEventListener("change", update);
    update();
  }

  function setupCompany() {
    const company = document.getElementById("f-company");
    if (!company) return;
    company.addEventListener("change", () => {
      for (const id of (company.dataset.resets || "").split(" ")) {
        const field = document.getElementById(id);
        if (field) field.value = "";
      }
      company.form.requestSubmit();
    });
  }

  function rowsOf(chargeId) {
    return [...document.querySelectorAll("[data-charge-id]")].filter((el) => el.dataset.chargeId === chargeId);
  }

  function setOutcome(el, state, text) {
    let span = el.querySelector(".outcome");
    if (!span) {
      const cell = el.querySelector("td.cid") || el;
      span = document.createElement("span");
      cell.appendChild(span);
    }
    span.className = `outcome ${state}`;
    span.textContent = text;
    el.classList.remove("state-replaying", "state-claimed", "state-failed", "state-skipped");
    el.classList.add(`state-${state}`);
    el.querySelectorAll("td.cid .badge").forEach((badge) => badge.remove());
    const box = el.querySelector('input[name="charge_id"]');
    if (box && state !== "failed") { box.checked = false; box.disabled = true; }
  }

  function setupLive() {
    const live = document.getElementById("live");
    if (!live || !window.EventSource) return;
    const company = live.dataset.company;
    const requestId = live.dataset.watch;
    const announce = document.createElement("p");
    announce.className = "sr-only";
    live.appendChild(announce);
    const notice = document.createElement("p");
    notice.className = "notice new-failures";
    notice.hidden = true;
    live.appendChild(notice);
    const fresh = new Set();
    const settled = new Map(); // charge id -> state, so a late poll never undoes an event

    const watched = () => [...document.querySelectorAll("[data-watched][data-charge-id]")];
    const isWatched = (id) => watched().some((el) => el.dataset.chargeId === id);
    const pending = () => watched().filter((el) => el.classList.contains("state-replaying")).length;

    function show(id, state, text, quiet) {
      const els = rowsOf(id);
      if (!els.length) return;
      settled.set(id, state);
      els.forEach((el) => setOutcome(el, state, text));
      const record = document.querySelector("section.watch p[data-watched]");
      if (record && state !== "replaying" && !record.querySelector("a.newest")) {
        const link = document.createElement("a");
        link.className = "newest";
        link.href = window.location.pathname;
        link.textContent = "Show the charge as it is now";
        record.append(" ", link);
      }
      if (!quiet) announce.textContent = `${id}: ${text}`;
    }

    function showNew() {
      notice.textContent = "";
      const link = document.createElement("a");
      link.href = live.dataset.reload || window.location.pathname;
      link.textContent = `${fresh.size} new failure${fresh.size === 1 ? "" : "s"} — show them`;
      notice.appendChild(link);
      notice.hidden = false;
    }

    let polls = 0;
    let polling = false;
    async function poll() {
      if (!requestId) return;
      polling = true;
      polls += 1;
      try {
        const answer = await fetch(`/failed-charges/watch/${encodeURIComponent(requestId)}`, {
          headers: { Accept: "application/json" }, credentials: "same-origin",
        });
        if (answer.ok) {
          const body = await answer.json();
          for (const [id, s] of Object.entries(body.states)) {
            if (s.state !== "replaying" && settled.get(id) !== s.state) show(id, s.state, s.text, false);
          }
        }
      } catch (_) { /* the next poll, or the live events, will tell */ }
      if (pending() && polls < POLL_LIMIT) window.setTimeout(poll, POLL_MS);
      else polling = false;
    }
    const startPolling = () => { if (requestId && pending() && !polling) poll(); };
    window.setTimeout(startPolling, 1500);

    const source = new EventSource(`/live/events?company=${encodeURIComponent(company)}`);
    source.addEventListener("open", startPolling);
    source.addEventListener("resolved", (e) => {
      const event = JSON.parse(e.data);
      show(event.charge_id, "claimed", `Claimed ${event.claim_id}`, false);
    });
    source.addEventListener("failed", (e) => {
      const event = JSON.parse(e.data);
      if (rowsOf(event.charge_id).length) {
        if (isWatched(event.charge_id)) {
          const reasons = event.reasons.map((r) => r.message).join("; ");
          show(event.charge_id, "failed", `Failed again: ${reasons}`, false);
        }
        return;
      }
      if (!document.getElementById("results") && !document.querySelector("table.groups")) return;
      fresh.add(event.charge_id);
      showNew();
    });
    source.addEventListener("reprocessed", (e) => {
      const event = JSON.parse(e.data);
      if (event.request_id !== requestId) return;
      for (const s of event.skipped) show(s.charge_id, "skipped", `Not replayed: ${s.reason}`, false);
    });
    source.addEventListener("reload", () => {
      source.close();
      fresh.add("*");
      notice.textContent = "";
      const link = document.createElement("a");
      link.href = live.dataset.reload || window.location.href;
      link.textContent = "Much has changed — reload the results";
      notice.appendChild(link);
      notice.hidden = false;
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    setupSelection();
    setupCompany();
    setupLive();
  });
})();

// Live failures: listen to the feed and redraw the dashboard from the server when anything changes.
"use strict";
(function () {
  const summary = document.getElementById("summary");
  if (!summary) return;
  const company = summary.dataset.company;
  const state = document.getElementById("live-state");
  const announce = document.getElementById("announce");
  let pending = null;
  const fresh = new Set();

  function redraw() {
    pending = null;
    fetch("/live/summary?company=" + encodeURIComponent(company), { headers: { Accept: "text/html" } })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => {
        summary.innerHTML = html;
        for (const row of summary.querySelectorAll("tr[data-charge-id]")) {
          if (fresh.has(row.dataset.chargeId)) row.classList.add("fresh");
        }
      })
      .catch(() => {});
  }
  function soon() {
    if (pending === null) pending = setTimeout(redraw, 400);
  }

  const source = new EventSource("/live/events?company=" + encodeURIComponent(company));
  source.addEventListener("open", () => { state.textContent = "live"; state.className = "badge ok"; });
  source.addEventListener("error", () => { state.textContent = "reconnecting…"; state.className = "badge warn"; });
  source.addEventListener("failed", (e) => {
    const event = JSON.parse(e.data);
    fresh.add(event.charge_id);
    announce.textContent = "New failure: " + event.charge_id;
    soon();
  });
  source.addEventListener("resolved", (e) => {
    const event = JSON.parse(e.data);
    fresh.delete(event.charge_id);
    announce.textContent = event.charge_id + " is now claim " + event.claim_id;
    soon();
  });
  source.addEventListener("reload", () => location.reload());
})();

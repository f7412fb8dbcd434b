// Bill page: the chosen code's explanation under the picker, and one submit per posting form.
"use strict";
(function () {
  const form = document.querySelector("form.posting");
  if (!form) return;
  const code = form.querySelector("#code");
  const help = form.querySelector("#code-help");
  const amount = form.querySelector("#amount");
  function explain() {
    const option = code.options[code.selectedIndex];
    if (!option || !option.value) {
      help.textContent = "Choose a code to see what it is for.";
      return;
    }
    help.textContent = "";
    const name = document.createElement("strong");
    name.textContent = option.textContent;
    help.append(name, " (" + option.dataset.amount + "). " + option.dataset.help);
    if (amount) amount.placeholder = option.dataset.amount === "no amount" ? "no amount" : "0.00";
  }
  code.addEventListener("change", explain);
  form.addEventListener("submit", function (event) {
    // The posting id makes a second submit harmless; this only spares the wait.
    if (form.dataset.sent) {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    button.textContent = "Posting…";
  });
  const outcome = document.getElementById("outcome");
  if (outcome) outcome.focus();
})();

/* Office forms that do a lot at once (bulk issuing, merging buildings, closing a gate).
 *
 * - form[data-confirm]: asks the question in data-confirm before submitting (irreversible work).
 * - form[data-busy]: on submit the button is disabled and reads data-busy (a long request must
 *   not be sent twice: a second re-issue would kill the cards of the first).
 * - In the bulk issuing form, choosing a building or a grid also ticks its "whose passes"
 *   choice, so the list chosen is the one used.
 * No inline script or handler: the CSP allows scripts from /static only.
 */
(function () {
  "use strict";

  document.querySelectorAll("form[data-confirm], form[data-busy]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent === "1") {
        event.preventDefault();
        return;
      }
      if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
        event.preventDefault();
        return;
      }
      form.dataset.sent = "1";
      if (form.dataset.busy) {
        form.querySelectorAll("button[type=submit]").forEach(function (button) {
          button.disabled = true;
          button.textContent = form.dataset.busy;
        });
      }
    });
  });

  document.querySelectorAll("select[data-scope]").forEach(function (select) {
    select.addEventListener("change", function () {
      var radio = document.querySelector(
        "input[type=radio][value='" + select.dataset.scope + "'][name='" + select.dataset.scopeName + "']"
      );
      if (radio && select.value) {
        radio.checked = true;
      }
    });
  });
})();

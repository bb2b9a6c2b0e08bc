/* AsisteClick copilot panel: insert a suggestion into the reply box and send through the copilot
 * send view (same reply service, plus the used/edited/ignored record). Nothing is ever sent
 * without the human pressing Send. */
(function () {
  "use strict";
  if (window.__asisteCopilot) return;
  window.__asisteCopilot = true;

  function panel() { return document.getElementById("copilot-panel"); }
  function replyBox() { return document.getElementById("reply-body"); }

  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest(".copilot-insert");
    if (!btn) return;
    var source = document.querySelector(btn.dataset.target);
    var box = replyBox();
    if (!source || !box) return;
    box.value = source.value;
    box.dispatchEvent(new Event("input", { bubbles: true }));
    if (box.form) box.form.dataset.copilotSuggestion = btn.dataset.suggestion;
    box.focus();
  });

  /* A draft being edited in the panel is not replaced by a refresh after a new message. */
  document.addEventListener("input", function (e) {
    if (e.target.classList && e.target.classList.contains("copilot-draft-text")) e.target.dataset.dirty = "1";
  });
  document.addEventListener("htmx:beforeRequest", function (e) {
    var el = e.detail && e.detail.elt;
    if (el && el.id === "copilot-suggestion" && el.querySelector(".copilot-draft-text[data-dirty]")) e.preventDefault();
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail && e.detail.target && e.detail.target.id === "copilot-suggestion") e.detail.target.setAttribute("aria-busy", "false");
  });

  /* Sending while the panel is mounted goes through the copilot send view (capture phase, so it
   * also works after htmx swapped the reply form). */
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var p = panel();
    if (!p || !form.matches || !form.matches("form.reply")) return;
    form.action = p.dataset.sendUrl;
    var chosen = form.dataset.copilotSuggestion;
    var input = form.querySelector('input[name="copilot_suggestion"]');
    if (chosen) {
      if (!input) {
        input = document.createElement("input");
        input.type = "hidden";
        input.name = "copilot_suggestion";
        form.appendChild(input);
      }
      input.value = chosen;
    }
  }, true);
})();

/* The one-screen inbox: keyboard shortcuts, the reply box (Enter sends, private notes, "/" saved
 * replies) and filters that apply on change. Every listener is delegated to the document because
 * htmx replaces the regions (the composer, the list) when live signals arrive. No inline script:
 * the page's CSP allows only static files.
 */
(function () {
  "use strict";

  function $(id) { return document.getElementById(id); }
  function typingIn(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  // --- filters apply as soon as one changes (the Apply button stays for no-JS use) ---------------
  document.addEventListener("change", function (e) {
    var form = e.target && e.target.form;
    if (form && form.id === "ws-filters" && e.target.tagName === "SELECT") form.requestSubmit();
  });

  // --- the shortcuts overlay ------------------------------------------------------------------
  function toggleShortcuts() {
    var d = $("shortcuts");
    if (!d) return;
    if (d.open) d.close(); else d.showModal();
  }

  function rowLinks() { return Array.prototype.slice.call(document.querySelectorAll(".ws-row-link")); }
  function moveInList(step) {
    var links = rowLinks();
    if (!links.length) return;
    var i = links.indexOf(document.activeElement);
    if (i === -1) i = links.findIndex(function (a) { return a.getAttribute("aria-current") === "true"; });
    var next = links[Math.max(0, Math.min(links.length - 1, i === -1 ? 0 : i + step))];
    next.focus();
    next.scrollIntoView({ block: "nearest" });
  }

  function setNote(on) {
    var box = $("reply-note");
    if (box && !box.disabled) { box.checked = on; box.dispatchEvent(new Event("change", { bubbles: true })); }
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (e.key === "Escape" && t && t.id === "reply-body" && menuOpen()) { closeMenu(); e.preventDefault(); return; }
    if (e.key === "Escape" && t && t.id === "reply-body") { t.blur(); return; }
    var menu = $("snooze-menu");
    if (e.key === "Escape" && menu && menu.open && menu.contains(t)) {
      menu.open = false; $("snooze-toggle").focus(); e.preventDefault(); return;
    }
    if (typingIn(t)) return;
    var key = e.key;
    if (key === "?") { toggleShortcuts(); e.preventDefault(); return; }
    if ($("shortcuts") && $("shortcuts").open) return;
    if (key === "j") { moveInList(1); e.preventDefault(); }
    else if (key === "k") { moveInList(-1); e.preventDefault(); }
    else if (key === "s" && $("ws-q")) { $("ws-q").focus(); $("ws-q").select(); e.preventDefault(); }
    else if (key === "r" && $("reply-body")) { setNote(false); $("reply-body").focus(); e.preventDefault(); }
    else if (key === "n" && $("reply-body")) { setNote(true); $("reply-body").focus(); e.preventDefault(); }
    else if (key === "l" && $("label-add-select")) { $("label-add-select").focus(); e.preventDefault(); }
    else if (key === "z" && $("snooze-menu")) {
      // Open the snooze menu and put the focus on its first choice (Esc closes it again).
      $("snooze-menu").open = true;
      var first = document.querySelector("#snooze-menu button[name=preset]");
      (first || $("snooze-toggle")).focus();
      e.preventDefault();
    }
  });

  // --- reply box --------------------------------------------------------------------------------
  // A live refresh re-renders the composer (the textarea is hx-preserve'd, the note toggle is not):
  // remember the toggle per form so a refresh between "n" and Enter cannot turn a note into a reply.
  var noteChosen = {};
  function showNoteState(box) {
    var form = $("reply-form");
    if (form) form.classList.toggle("is-note", box.checked);
    var send = $("reply-send");
    if (send) send.textContent = box.checked ? (send.dataset.noteLabel || send.textContent) : (send.dataset.replyLabel || send.textContent);
  }
  document.addEventListener("change", function (e) {
    if (e.target && e.target.id === "reply-note") {
      var form = $("reply-form");
      if (form) noteChosen[form.getAttribute("action")] = e.target.checked;
      showNoteState(e.target);
    }
  });
  document.addEventListener("htmx:afterSettle", function () {
    var box = $("reply-note"), form = $("reply-form");
    if (!box || !form || box.disabled) return;
    var chosen = noteChosen[form.getAttribute("action")];
    if (chosen === undefined || chosen === box.checked) return;
    box.checked = chosen;
    showNoteState(box);
  });

  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (!t || t.id !== "reply-body") return;
    if (menuOpen()) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") { moveMenu(e.key === "ArrowDown" ? 1 : -1); e.preventDefault(); return; }
      if (e.key === "Enter" || e.key === "Tab") { if (insertChosen()) { e.preventDefault(); return; } }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && !e.ctrlKey && !e.altKey && !e.metaKey) {
      e.preventDefault();
      if (t.value.trim() && t.form) t.form.requestSubmit();
    }
  });

  // The copilot panel points the form at its own send view (same reply flow, plus the suggestion's
  // outcome) by changing form.action on submit: follow it, since htmx would post to hx-post.
  document.addEventListener("htmx:configRequest", function (e) {
    var form = e.detail && e.detail.elt;
    if (form && form.id === "reply-form" && form.getAttribute("action")) e.detail.path = form.getAttribute("action");
  });

  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail && e.detail.elt;
    if (!form || form.id !== "reply-form") return;
    var err = $("reply-error");
    var xhr = e.detail.xhr;
    if (e.detail.successful) {
      var box = $("reply-body");
      if (box) { box.value = ""; box.focus(); }
      var file = $("reply-file");
      if (file) file.value = "";
      if (err) err.textContent = "";
    } else if (err) {
      err.textContent = (xhr && xhr.status === 422 && xhr.responseText) || form.dataset.errorText || "Error";
    }
  });

  // --- the reply box's menu: saved replies ("/" at the start) and, in a private note, colleagues
  // ("@" before the caret). One listbox, one keyboard model; ``menuKind`` says what an item inserts.
  var menuItems = [];
  var menuIndex = -1;
  var menuKind = "saved";
  var mentionAt = -1; // where the "@" being completed starts in the text
  var fetchSeq = 0;

  function menu() { return $("saved-menu"); }
  function menuOpen() { var m = menu(); return !!(m && !m.hidden && menuItems.length); }
  function closeMenu() {
    var m = menu();
    menuItems = []; menuIndex = -1;
    if (m) { m.hidden = true; m.textContent = ""; }
    var box = $("reply-body");
    if (box) { box.removeAttribute("aria-activedescendant"); box.setAttribute("aria-expanded", "false"); }
  }
  function renderMenu(items, kind) {
    var m = menu();
    var box = $("reply-body");
    if (!m || !box) return;
    menuItems = items; menuIndex = items.length ? 0 : -1; menuKind = kind || "saved";
    m.textContent = "";
    var label = menuKind === "mention" ? m.dataset.mentionsLabel : m.dataset.savedLabel;
    if (label) m.setAttribute("aria-label", label);
    items.forEach(function (item, i) {
      var opt = document.createElement("div");
      opt.setAttribute("role", "option");
      opt.id = (menuKind === "mention" ? "mention-opt-" : "saved-opt-") + item.id;
      opt.dataset.index = String(i);
      var title = document.createElement("span");
      title.className = "saved-title";
      var text = document.createElement("span");
      text.className = "saved-text";
      if (menuKind === "mention") {
        title.textContent = "@" + item.username;
        text.textContent = item.name;
      } else {
        title.textContent = "/" + item.shortcut + " · " + item.title + " (" + item.scope + ")";
        text.textContent = item.text.length > 120 ? item.text.slice(0, 120) + "…" : item.text;
      }
      opt.appendChild(title); opt.appendChild(text);
      opt.addEventListener("mousedown", function (ev) { ev.preventDefault(); menuIndex = i; insertChosen(); });
      m.appendChild(opt);
    });
    m.hidden = !items.length;
    box.setAttribute("aria-expanded", items.length ? "true" : "false");
    paintMenu();
  }
  function paintMenu() {
    var m = menu();
    var box = $("reply-body");
    if (!m || !box) return;
    Array.prototype.forEach.call(m.children, function (opt, i) {
      opt.setAttribute("aria-selected", i === menuIndex ? "true" : "false");
      if (i === menuIndex) { box.setAttribute("aria-activedescendant", opt.id); opt.scrollIntoView({ block: "nearest" }); }
    });
  }
  function moveMenu(step) {
    if (!menuItems.length) return;
    menuIndex = (menuIndex + step + menuItems.length) % menuItems.length;
    paintMenu();
  }
  function insertChosen() {
    var box = $("reply-body");
    var item = menuItems[menuIndex];
    if (!box || !item) return false;
    var caret = box.value.length;
    if (menuKind === "mention") {
      // Replace the "@partial" being typed with "@username " and keep the rest of the note.
      var end = box.selectionEnd;
      var token = "@" + item.username + " ";
      box.value = box.value.slice(0, mentionAt) + token + box.value.slice(end);
      caret = mentionAt + token.length;
    } else {
      box.value = item.text;
      caret = box.value.length;
    }
    closeMenu();
    box.focus();
    box.setSelectionRange(caret, caret);
    box.dispatchEvent(new Event("input", { bubbles: true }));
    return true;
  }

  document.addEventListener("input", function (e) {
    var box = e.target;
    if (!box || box.id !== "reply-body") return;
    var form = box.form;
    var url = form && form.dataset.savedReplies;
    var v = box.value;
    var note = $("reply-note");
    // In a private note, an "@" not glued to a word (not an e-mail address) just before the caret.
    var typed = note && note.checked && form.dataset.mentions
      ? /(^|[^\p{L}\p{N}_@.+-])@([\p{L}\p{N}_.+-]{0,30})$/u.exec(v.slice(0, box.selectionEnd)) : null;
    if (typed) {
      var at = box.selectionEnd - typed[2].length - 1;
      var mseq = ++fetchSeq;
      fetch(form.dataset.mentions + "?q=" + encodeURIComponent(typed[2]), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { people: [] }; })
        .then(function (data) { if (mseq === fetchSeq && box.value === v) { mentionAt = at; renderMenu(data.people || [], "mention"); } })
        .catch(function () { closeMenu(); });
      return;
    }
    if (!url || v.charAt(0) !== "/" || v.indexOf("\n") !== -1 || v.length > 60) { fetchSeq++; closeMenu(); return; }
    var seq = ++fetchSeq;
    fetch(url + "&q=" + encodeURIComponent(v.slice(1)), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { replies: [] }; })
      .then(function (data) { if (seq === fetchSeq && box.value === v) renderMenu(data.replies || [], "saved"); })
      .catch(function () { closeMenu(); });
  });

  document.addEventListener("focusout", function (e) {
    if (e.target && e.target.id === "reply-body") window.setTimeout(function () {
      if (document.activeElement && document.activeElement.id !== "reply-body") closeMenu();
    }, 150);
  });

  // --- on load: the open conversation's reply box is ready to type in (wide screens only) --------
  document.addEventListener("DOMContentLoaded", function () {
    var box = $("reply-body");
    var current = document.querySelector(".ws-row.is-current");
    if (current) current.scrollIntoView({ block: "nearest" });
    if (box && !box.closest("fieldset[disabled]") && window.matchMedia("(min-width: 801px)").matches && !location.hash) {
      box.focus({ preventScroll: true });
    }
    var msgs = $("conv-messages");
    if (msgs) msgs.scrollTop = msgs.scrollHeight;
  });
})();

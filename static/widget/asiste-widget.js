/* AsisteClick web chat widget. Embed with one script tag:
 *
 *   <script src="https://YOUR-ASISTECLICK/static/widget/asiste-widget.js" data-key="PUBLIC_KEY" async></script>
 *
 * Optional attributes: data-lang ("es"/"en"), data-name (visitor name), and for a logged-in
 * customer data-customer-id + data-signature (HMAC-SHA256 of the id with the channel secret,
 * computed by your backend, never in the browser).
 *
 * The socket carries signals; on each signal the widget asks for the messages after the last id
 * it has seen, so a dropped connection catches up without gaps, and sends are idempotent
 * (a client id per message) so a resend after a drop never duplicates. Every text is rendered
 * with textContent: nothing a customer or agent writes is ever interpreted as HTML.
 */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector('script[src*="asiste-widget"][data-key]');
  if (!script || window.__asisteWidgetLoaded) return;
  window.__asisteWidgetLoaded = true;

  var KEY = script.getAttribute("data-key") || "";
  var ORIGIN = new URL(script.src, location.href).origin;
  var STORE = "asisteclick:" + KEY;
  var lang = (script.getAttribute("data-lang") || document.documentElement.lang || navigator.language || "es").slice(0, 2).toLowerCase();
  var PAGE_LANG = lang;
  function wsUrl() {
    return ORIGIN.replace(/^http/, "ws") + "/ws/widget/?key=" + encodeURIComponent(KEY) + "&lang=" + encodeURIComponent(lang);
  }

  // The widget's texts come from the server's catalogues (GET /workspace/widget/strings/?lang=),
  // in the page's language and later in the conversation's. The last copy per language is kept in
  // localStorage, so a reload while the server is unreachable still shows the widget, in words.
  var t = null;
  var STRINGS = "asisteclick:strings:";
  function cachedStrings(code) { try { return JSON.parse(localStorage.getItem(STRINGS + code) || "null"); } catch (e) { return null; } }
  function fetchStrings(code, done) {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", ORIGIN + "/workspace/widget/strings/?lang=" + encodeURIComponent(code));
    xhr.onload = function () {
      var data = null;
      try { data = xhr.status === 200 ? JSON.parse(xhr.responseText) : null; } catch (e) { data = null; }
      if (data && data.strings) {
        try { localStorage.setItem(STRINGS + code, JSON.stringify(data.strings)); } catch (e) { /* private mode */ }
      }
      done(data && data.strings);
    };
    xhr.onerror = function () { done(null); };
    xhr.send();
  }
  function fmt(text, values) {
    return String(text || "").replace(/%\((\w+)\)s/g, function (all, name) { return values && values[name] != null ? values[name] : ""; });
  }

  function load() { try { return JSON.parse(localStorage.getItem(STORE) || "{}"); } catch (e) { return {}; } }
  function save() { try { localStorage.setItem(STORE, JSON.stringify({ token: state.token, outbox: state.outbox, lang: lang !== PAGE_LANG ? lang : undefined })); } catch (e) { /* private mode */ } }

  var saved = load();
  if (saved.lang) lang = saved.lang; // a chat continues in the language it was held in
  var state = { token: saved.token || null, lastId: 0, seen: {}, outbox: saved.outbox || [], ws: null, ready: false,
                attempts: 0, syncTimer: null, conv: null, rated: {}, messageAt: {} };

  // --- DOM (in a shadow root so the host page's CSS cannot break it) ---------------------------
  var host = document.createElement("div");
  host.id = "asisteclick-widget";
  document.body.appendChild(host);
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = ORIGIN + "/static/widget/asiste-widget.css";
  root.appendChild(css);

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text != null) node.textContent = text;
    return node;
  }

  var launcher = el("button", { type: "button", class: "launcher", "aria-expanded": "false", "aria-controls": "asiste-panel" });
  var panel = el("section", { id: "asiste-panel", class: "panel", role: "dialog", hidden: "" });
  var header = el("header", { class: "head" });
  var heading = el("h2", {});
  header.appendChild(heading);
  var closeBtn = el("button", { type: "button", class: "close" }, "×");
  header.appendChild(closeBtn);
  var status = el("p", { class: "status", role: "status", "aria-live": "polite" });
  var log = el("ol", { class: "log", role: "log", "aria-live": "polite" });
  var typing = el("p", { class: "typing", "aria-live": "polite" });
  // The greeting and the wait for a person right now (from the welcome), above the messages.
  var opening = el("div", { class: "opening" });
  var greetingP = el("p", { class: "greeting" });
  var waitP = el("p", { class: "wait" });
  opening.appendChild(greetingP); opening.appendChild(waitP);
  // Optional name and e-mail, before or during the chat.
  var about = el("details", { class: "about" });
  var aboutSummary = el("summary", {});
  var aboutForm = el("form", { class: "about-form" });
  var nameLabel = el("label", { for: "asiste-name" });
  var nameInput = el("input", { id: "asiste-name", type: "text", maxlength: "200", autocomplete: "name" });
  var emailLabel = el("label", { for: "asiste-email" });
  var emailInput = el("input", { id: "asiste-email", type: "email", maxlength: "254", autocomplete: "email" });
  var aboutSave = el("button", { type: "submit" });
  var aboutNote = el("p", { class: "about-note", role: "status" });
  [nameLabel, nameInput, emailLabel, emailInput, aboutSave, aboutNote].forEach(function (n) { aboutForm.appendChild(n); });
  about.appendChild(aboutSummary); about.appendChild(aboutForm);
  var csat = el("form", { class: "csat", hidden: "" });
  var form = el("form", { class: "composer" });
  var inputId = "asiste-input";
  var inputLabel = el("label", { for: inputId, class: "sr" });
  form.appendChild(inputLabel);
  var input = el("textarea", { id: inputId, rows: "2", maxlength: "4096", required: "" });
  form.appendChild(input);
  var sendBtn = el("button", { type: "submit", class: "send" });
  form.appendChild(sendBtn);
  // A photo of the router's lights, a PDF bill: uploaded over HTTP with the visitor token.
  var fileInput = el("input", { type: "file", id: "asiste-file", class: "sr", accept: "image/jpeg,image/png,image/gif,image/webp,application/pdf" });
  var fileLabel = el("label", { for: "asiste-file", class: "attach", tabindex: "0", role: "button" }, "📎");
  form.insertBefore(fileLabel, sendBtn);
  form.insertBefore(fileInput, sendBtn);
  [header, opening, about, status, log, typing, csat, form].forEach(function (n) { panel.appendChild(n); });

  // (Re)label everything that shows a text of ours: on start and when the chat's language changes.
  function applyStrings(strings) {
    t = strings;
    launcher.textContent = t.open;
    panel.setAttribute("aria-label", t.title);
    panel.setAttribute("lang", lang);
    launcher.setAttribute("lang", lang);
    heading.textContent = t.title;
    closeBtn.setAttribute("aria-label", t.close);
    log.setAttribute("aria-label", t.log);
    inputLabel.textContent = t.label;
    input.setAttribute("placeholder", t.label);
    sendBtn.textContent = t.send;
    fileLabel.setAttribute("aria-label", t.attach || "");
    fileLabel.setAttribute("title", t.attach || "");
    aboutSummary.textContent = t.about_you || "";
    nameLabel.textContent = t.your_name || "";
    emailLabel.textContent = t.your_email || "";
    aboutSave.textContent = t.save || "";
    log.querySelectorAll("li.msg").forEach(function (li) {
      var who = li.querySelector(".who");
      if (who) who.textContent = who_({ kind: li.getAttribute("data-kind"), author: li.getAttribute("data-author") || "" });
    });
    if (state.conv) { var conv = state.conv; state.conv = null; renderState(conv); }
    if (!csat.hasAttribute("hidden") && csat.querySelector("fieldset")) {
      var convId = csat.getAttribute("data-conversation");
      csat.setAttribute("hidden", "");
      showCsat(convId);
    }
  }

  function switchLanguage(code) {
    if (!code || code === lang) return;
    lang = code;
    save();
    var cached = cachedStrings(code);
    if (cached) applyStrings(cached);
    fetchStrings(code, function (fresh) { if (fresh && lang === code) applyStrings(fresh); });
  }

  function setOpen(open) {
    if (open) panel.removeAttribute("hidden"); else panel.setAttribute("hidden", "");
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) input.focus(); else launcher.focus();
  }
  launcher.addEventListener("click", function () { setOpen(panel.hasAttribute("hidden")); });
  closeBtn.addEventListener("click", function () { setOpen(false); });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") setOpen(false); });

  function who_(m) {
    if (m.kind === "customer") return t.you;
    if (m.kind === "ai_agent") return t.ai;
    if (m.kind === "human") return m.author + " · " + t.human;
    return t.system;
  }

  function showTyping() {
    typing.textContent = t.typing;
    window.clearTimeout(state.typingTimer);
    // Staff screens repeat the signal every 2 s while typing: silence for 3 s means they stopped.
    state.typingTimer = window.setTimeout(hideTyping, 3000);
  }
  function hideTyping() { window.clearTimeout(state.typingTimer); typing.textContent = ""; }

  function renderMessage(m) {
    if (state.seen[m.id]) return; // never twice, whatever the network did
    state.seen[m.id] = true;
    if (m.kind === "human") hideTyping(); // whoever was typing, their message is here
    var pending = m.client_id ? log.querySelector('[data-client-id="' + m.client_id + '"]') : null;
    var li = el("li", { class: "msg msg-" + m.kind, "data-id": String(m.id), "data-kind": m.kind });
    if (m.kind === "human") li.setAttribute("data-author", m.author || "");
    li.appendChild(el("span", { class: "who" }, who_(m)));
    if (m.files && m.files.length) {
      var files = el("ul", { class: "files" });
      m.files.forEach(function (f) {
        var item = el("li", {});
        var a = el("a", { href: ORIGIN + f.url, target: "_blank", rel: "noopener" });
        if (/^image\//.test(f.type)) {
          a.appendChild(el("img", { src: ORIGIN + f.url + "?thumb=1", alt: fmt(t.image, { name: f.name }), class: "thumb" }));
        } else { a.textContent = "📄 " + f.name; }
        item.appendChild(a);
        files.appendChild(item);
      });
      li.appendChild(files);
    } else {
      li.appendChild(el("p", { class: "body" }, m.body));
    }
    if (pending) log.replaceChild(li, pending); else log.appendChild(li);
    log.scrollTop = log.scrollHeight;
  }

  function renderPending(item) {
    if (log.querySelector('[data-client-id="' + item.client_id + '"]')) return;
    var li = el("li", { class: "msg msg-customer pending", "data-client-id": item.client_id, "data-kind": "customer" });
    li.appendChild(el("span", { class: "who" }, t.you));
    li.appendChild(el("p", { class: "body" }, item.body));
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
  }

  function renderState(s) {
    state.conv = s;
    if (!s) { status.textContent = ""; return; }
    if (s.status === "transfer" || s.status === "unassigned") {
      var line = s.department ? fmt(t.queue_department, { department: s.department }) : t.queue;
      // Routing's estimate (the same figure as the notices): place in line and expected wait.
      if (s.position && s.open === false) line = t.queue_closed;
      else if (s.position && s.wait_minutes === null) line = fmt(t.queue_unavailable, { position: s.position });
      else if (s.position && s.wait_minutes > 0) line = fmt(t.queue_wait, { position: s.position, minutes: s.wait_minutes });
      else if (s.position) line = fmt(t.queue_next, { position: s.position });
      status.textContent = line;
    } else if (s.status === "assigned" || s.status === "in_progress") status.textContent = fmt(t.assigned, { agent: s.agent || t.human });
    else if (s.status === "archived") status.textContent = t.archived;
    else status.textContent = "";
    panel.setAttribute("data-status", s.status);
    if (s.can_rate && !state.rated[s.conversation]) showCsat(s.conversation); else if (!s.can_rate) hideCsat(s.rated);
  }

  function hideCsat(rated) {
    if (!csat.hasAttribute("hidden") && rated) { csat.textContent = ""; csat.appendChild(el("p", { class: "thanks" }, t.thanks)); return; }
    if (!rated) csat.setAttribute("hidden", "");
  }

  function showCsat(convId) {
    if (!csat.hasAttribute("hidden") && csat.getAttribute("data-conversation") === String(convId)) return;
    csat.textContent = "";
    csat.setAttribute("data-conversation", String(convId));
    var fs = el("fieldset", {});
    fs.appendChild(el("legend", {}, t.rate_question));
    for (var i = 1; i <= 5; i++) {
      var id = "asiste-star-" + i;
      var r = el("input", { type: "radio", name: "score", value: String(i), id: id, required: "" });
      var l = el("label", { for: id }, t.stars[i - 1]);
      var w = el("span", { class: "star" });
      w.appendChild(r); w.appendChild(l); fs.appendChild(w);
    }
    csat.appendChild(fs);
    csat.appendChild(el("label", { for: "asiste-comment" }, t.comment));
    csat.appendChild(el("textarea", { id: "asiste-comment", name: "comment", rows: "2", maxlength: "2000" }));
    csat.appendChild(el("button", { type: "submit" }, t.rate));
    csat.removeAttribute("hidden");
  }

  csat.addEventListener("submit", function (e) {
    e.preventDefault();
    var checked = csat.querySelector('input[name="score"]:checked');
    if (!checked) return;
    send({ type: "rate", conversation: parseInt(csat.getAttribute("data-conversation"), 10),
           score: parseInt(checked.value, 10), comment: csat.querySelector("textarea").value });
  });

  // --- socket ------------------------------------------------------------------------------------
  function send(obj) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) { state.ws.send(JSON.stringify(obj)); return true; }
    return false;
  }

  function sync() {
    window.clearTimeout(state.syncTimer);
    state.syncTimer = window.setTimeout(function () { send({ type: "sync", after: state.lastId }); }, 30);
  }

  function flushOutbox() {
    state.outbox.forEach(function (item) { renderPending(item); send({ type: "send", body: item.body, client_id: item.client_id }); });
  }

  function onMessage(data) {
    if (data.type === "welcome") {
      state.token = data.token; state.ready = true; state.attempts = 0; save();
      status.textContent = "";
      greetingP.textContent = data.greeting || "";
      waitP.textContent = data.wait || "";
      if (data.profile) {
        if (data.profile.name && !nameInput.value) nameInput.value = data.profile.name;
        if (data.profile.email && !emailInput.value) emailInput.value = data.profile.email;
      }
      send({ type: "sync", after: state.lastId });
      flushOutbox();
    } else if (data.type === "messages") {
      data.messages.forEach(function (m) { renderMessage(m); if (m.id > state.lastId) state.lastId = m.id; });
      renderState(data.state);
      if (data.state && data.state.language) switchLanguage(data.state.language);
      if (data.more) sync();
    } else if (data.type === "ack") {
      state.outbox = state.outbox.filter(function (i) { return i.client_id !== data.client_id; });
      save();
      sync();
    } else if (data.type === "signal") {
      if (data.what === "typing") {
        // Said before the last message landed (it was about that message): not typing any more.
        if (data.at && data.at <= (state.messageAt[data.conversation] || 0)) return;
        showTyping();
        return;
      }
      // Any change of the chat (a message; the first reply also moves it to "in progress").
      if (data.at) state.messageAt[data.conversation] = Math.max(state.messageAt[data.conversation] || 0, data.at);
      if (data.what === "message") hideTyping();
      sync();
    } else if (data.type === "profile_saved") {
      aboutNote.textContent = t.saved || "";
      aboutNote.classList.remove("failed");
    } else if (data.type === "rated") {
      state.rated[data.conversation] = true;
      csat.textContent = "";
      csat.appendChild(el("p", { class: "thanks" }, t.thanks));
    } else if (data.type === "error") {
      if (data.client_id) {
        state.outbox = state.outbox.filter(function (i) { return i.client_id !== data.client_id; });
        save();
        var p = log.querySelector('[data-client-id="' + data.client_id + '"]');
        if (p) p.classList.add("failed");
      }
      if (data.field === "email") { aboutNote.textContent = data.message; aboutNote.classList.add("failed"); emailInput.focus(); return; }
      status.textContent = fmt(t.failed, { reason: data.message });
    }
  }

  function connect() {
    status.textContent = state.attempts ? t.offline : t.connecting;
    var ws = new WebSocket(wsUrl());
    state.ws = ws;
    ws.onopen = function () {
      send({ type: "hello", token: state.token, name: script.getAttribute("data-name") || "", language: lang,
             customer_id: script.getAttribute("data-customer-id") || undefined,
             signature: script.getAttribute("data-signature") || undefined });
    };
    ws.onmessage = function (e) { try { onMessage(JSON.parse(e.data)); } catch (err) { /* ignore malformed */ } };
    ws.onclose = function (e) {
      state.ready = false;
      if (state.ws !== ws) return;
      if (e.code === 4403) { status.textContent = t.offline; return; } // refused: retrying would not help
      state.attempts += 1;
      status.textContent = t.offline;
      window.setTimeout(connect, Math.min(15000, 250 * Math.pow(2, state.attempts)) + Math.random() * 250);
    };
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var body = input.value.trim();
    if (!body) return;
    var item = { body: body, client_id: Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10) };
    state.outbox.push(item);
    save();
    renderPending(item);
    input.value = "";
    lastTyping = 0; // a sent message ends "typing": the next keystroke may say so again
    if (state.ready) send({ type: "send", body: item.body, client_id: item.client_id });
  });
  aboutForm.addEventListener("submit", function (e) {
    e.preventDefault();
    aboutNote.textContent = "";
    send({ type: "profile", name: nameInput.value.trim(), email: emailInput.value.trim() });
  });
  fileLabel.addEventListener("keydown", function (e) {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); fileInput.click(); }
  });
  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    if (!file || !state.token) return;
    var data = new FormData();
    data.append("key", KEY); data.append("token", state.token); data.append("language", lang);
    data.append("client_id", "f" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8));
    data.append("file", file);
    status.textContent = t.uploading || "";
    var xhr = new XMLHttpRequest();
    xhr.open("POST", ORIGIN + "/workspace/widget/upload/");
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { /* not JSON */ }
      status.textContent = xhr.status === 200 ? "" : (body.error || "");
      fileInput.value = "";
      sync();
    };
    xhr.onerror = function () { status.textContent = t.offline || ""; };
    xhr.send(data);
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit")); }
  });
  var lastTyping = 0;
  input.addEventListener("input", function () {
    if (Date.now() - lastTyping > 2000) { lastTyping = Date.now(); send({ type: "typing" }); }
  });

  // Test and debugging hook: simulate a network drop (the widget reconnects and catches up).
  window.AsisteWidget = {
    open: function () { setOpen(true); },
    drop: function () { if (state.ws) state.ws.close(); },
    lastId: function () { return state.lastId; }
  };

  // Start once the texts are known: the cached copy at once (refreshed in the background), else
  // the server's; while the server is unreachable and nothing is cached, retry quietly.
  function start(strings) {
    applyStrings(strings);
    root.appendChild(launcher);
    root.appendChild(panel);
    connect();
  }
  var cached = cachedStrings(lang);
  if (cached) {
    start(cached);
    fetchStrings(lang, function (fresh) { if (fresh) applyStrings(fresh); });
  } else {
    var tries = 0;
    (function attempt() {
      fetchStrings(lang, function (fresh) {
        if (fresh) { start(fresh); return; }
        tries += 1;
        window.setTimeout(attempt, Math.min(15000, 500 * Math.pow(2, tries)));
      });
    })();
  }
})();

/* AsisteClick live workspace: one websocket per tab, signals only.
 *
 * A signal says "conversation X changed"; every element marked [data-live] that cares
 * (data-live-conversation / data-live-what) re-fetches itself through htmx, i.e. through the
 * normal visibility-checked view. Each element is throttled: at most one refresh per
 * data-live-interval ms (default 300; the monitor uses 2000) however many signals arrive,
 * with a trailing refresh so the last change is never missed. After a reconnect everything
 * refreshes once, so nothing is lost while the socket was down.
 *
 * Accessibility: each change a page shows is announced once in a polite live region
 * (#live-announcer, texts from the body's data-announce-* attributes, translated by the server),
 * and keyboard focus survives a refresh: focusable elements have ids that are stable across
 * renders, so the focused one is found again after htmx swaps its region (with its value).
 */
(function () {
  "use strict";
  var body = document.body;
  if (!body || !body.dataset.liveWs || !window.WebSocket) return;

  var ws = null;
  var attempts = 0;
  var everOpened = false;
  var statusEl = document.getElementById("live-status");
  window.__asisteSignals = [];

  function say(text) { if (statusEl) statusEl.textContent = text || ""; }

  // --- announcements: one short sentence per burst of changes, never one per signal ----------
  var announcer = document.getElementById("live-announcer");
  var announceTimer = null;
  var pendingAnnouncement = "";
  function announce(text) {
    if (!announcer || !text) return;
    pendingAnnouncement = text; // the latest wins within a burst
    if (announceTimer) return;
    announceTimer = window.setTimeout(function () {
      announceTimer = null;
      announcer.textContent = "";
      // A fresh text node after clearing: screen readers announce a repeated sentence again.
      window.setTimeout(function () { announcer.textContent = pendingAnnouncement; }, 50);
    }, 400);
  }

  function announcementFor(signal, targets) {
    if (!targets.length) return "";
    if (signal.what === "message") {
      // The conversation's own message list announces its additions itself (aria-live).
      var own = targets.some(function (el) { return el.id === "conv-messages"; });
      return own ? "" : (body.dataset.announceMessage || "").replace("{n}", String(signal.conversation));
    }
    if (document.getElementById("monitor-panel")) return body.dataset.announceMonitor;
    if (document.getElementById("inbox-lists")) return body.dataset.announceQueue;
    return body.dataset.announceConversation;
  }

  function schedule(el) {
    var every = parseInt(el.dataset.liveInterval || "300", 10);
    var st = el.__asisteLive || (el.__asisteLive = { last: 0, timer: null });
    if (st.timer) return; // a refresh is already queued: it will pick this change up too
    var wait = Math.max(0, st.last + every - Date.now());
    st.timer = window.setTimeout(function () {
      st.timer = null;
      st.last = Date.now();
      if (document.body.contains(el) && window.htmx) window.htmx.trigger(el, "asiste:refresh");
    }, wait);
  }

  function wants(el, signal) {
    var conv = el.dataset.liveConversation;
    if (conv && String(signal.conversation) !== conv) return false;
    var what = el.dataset.liveWhat;
    if (what && what.split(" ").indexOf(signal.what) === -1) return false;
    return true;
  }

  function refreshAll() {
    document.querySelectorAll("[data-live]").forEach(schedule);
  }

  var typingTimers = {};
  var messageAt = {}; // per chat: when its last message signal was sent (server time, ms)
  function showTyping(signal) {
    // Typing said before the chat's last message (it was about that message) is over already.
    if (signal.at && signal.at <= (messageAt[signal.conversation] || 0)) return;
    document.querySelectorAll('[data-typing-for="' + signal.conversation + '"]').forEach(function (el) {
      el.textContent = signal.by === "customer" ? body.dataset.typingCustomer : body.dataset.typingHuman;
      window.clearTimeout(typingTimers[signal.conversation]);
      typingTimers[signal.conversation] = window.setTimeout(function () { el.textContent = ""; }, 3000);
    });
  }

  function onSignal(signal) {
    window.__asisteSignals.push(signal);
    if (signal.what === "typing") { showTyping(signal); return; }
    if (signal.at) messageAt[signal.conversation] = Math.max(messageAt[signal.conversation] || 0, signal.at);
    if (signal.what === "message") {
      window.clearTimeout(typingTimers[signal.conversation]);
      document.querySelectorAll('[data-typing-for="' + signal.conversation + '"]').forEach(function (el) { el.textContent = ""; });
    }
    var targets = [];
    document.querySelectorAll("[data-live]").forEach(function (el) { if (wants(el, signal)) { targets.push(el); schedule(el); } });
    announce(announcementFor(signal, targets));
  }

  function send(obj) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
  }

  function connect() {
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + body.dataset.liveWs;
    ws = new WebSocket(url);
    ws.onopen = function () {
      body.dataset.liveState = "open";
      say("");
      if (everOpened) refreshAll(); // catch up on whatever happened while we were away
      everOpened = true;
      attempts = 0;
      send({ type: "presence", away: document.hidden });
    };
    ws.onmessage = function (e) {
      var data;
      try { data = JSON.parse(e.data); } catch (err) { return; }
      if (data.type === "signal") onSignal(data);
    };
    ws.onclose = function () {
      body.dataset.liveState = "closed";
      if (everOpened) say(body.dataset.liveLost);
      attempts += 1;
      window.setTimeout(connect, Math.min(15000, 300 * Math.pow(2, attempts)) + Math.random() * 300);
    };
  }

  // Staff typing: at most one signal every 2 s while typing in a reply box.
  var lastTyping = 0;
  document.addEventListener("input", function (e) {
    var conv = e.target && e.target.dataset && e.target.dataset.typingConversation;
    if (!conv || Date.now() - lastTyping < 2000) return;
    lastTyping = Date.now();
    send({ type: "typing", conversation: parseInt(conv, 10) });
  });

  document.addEventListener("visibilitychange", function () { send({ type: "presence", away: document.hidden }); });

  // A conversation the user may no longer see answers 404: say so instead of silently freezing.
  document.addEventListener("htmx:responseError", function (e) {
    var el = e.detail && e.detail.elt;
    if (el && el.hasAttribute && el.hasAttribute("data-live") && e.detail.xhr && e.detail.xhr.status === 404) {
      say(body.dataset.liveGone);
    }
  });

  // Keep keyboard focus (and what was being typed or chosen) across a refresh of its region.
  var kept = null;
  document.addEventListener("htmx:beforeSwap", function (e) {
    var target = e.detail && e.detail.target;
    var active = document.activeElement;
    if (!target || !active || active === document.body || !active.id || !target.contains(active)) return;
    kept = { node: active, target: target, id: active.id, tag: active.tagName };
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName) && active.type !== "hidden") {
      kept.value = active.value;
      if (typeof active.selectionStart === "number") { kept.start = active.selectionStart; kept.end = active.selectionEnd; }
    }
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    if (!kept) return;
    if (document.body.contains(kept.node)) { // its region was not replaced (yet): nothing was lost
      if (e.detail && e.detail.target === kept.target) kept = null;
      return;
    }
    var was = kept;
    kept = null;
    var el = document.getElementById(was.id);
    if (!el || el.tagName !== was.tag || el.disabled) return; // gone (e.g. picked up meanwhile)
    var active = document.activeElement;
    if (active && active !== document.body && active !== el) return; // the user moved on
    // htmx itself re-focuses an element with the same id; the value the user was typing or had
    // chosen (a transfer department, say) would still be the server's: keep the user's.
    if (was.value !== undefined && el.value !== was.value) {
      if (el.tagName !== "SELECT" || Array.prototype.some.call(el.options, function (o) { return o.value === was.value; })) el.value = was.value;
    }
    if (active !== el) el.focus({ preventScroll: true });
    if (was.start !== undefined && el.setSelectionRange) { try { el.setSelectionRange(was.start, was.end); } catch (err) { /* no selection on this type */ } }
  });

  // Keep the newest message in view after a refresh.
  document.addEventListener("htmx:afterSwap", function (e) {
    var el = e.detail && e.detail.target;
    if (el && el.id === "conv-messages") el.scrollTop = el.scrollHeight;
  });

  // Wait times tick locally between refreshes (no server round trip).
  function tick() {
    var now = Date.now() / 1000;
    document.querySelectorAll("time[data-since]").forEach(function (t) {
      var s = Math.max(0, Math.floor(now - parseInt(t.dataset.since, 10)));
      var m = Math.floor(s / 60);
      t.textContent = m >= 60 ? Math.floor(m / 60) + " h " + (m % 60) + " min" : (m > 0 ? m + " min " : "") + (s % 60) + " s";
    });
  }
  window.setInterval(tick, 1000);

  connect();
})();

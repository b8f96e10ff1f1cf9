/*
 * Website chat widget. Embed with one tag, served by the gateway:
 *   <script src="https://gateway.example/static/widget.js" defer
 *           data-customer-id="C001" data-expires="1767225600" data-signature="<hex hmac>"
 *           data-color="#2f5d50" data-title="Juniper & Oak"></script>
 * All data- attributes are optional:
 *   data-customer-id, data-expires, data-signature  the shop's signed-in customer,
 *       when the signature stops vouching for them (Unix seconds), and the hex
 *       HMAC-SHA256 of "<customer_id>:<expires>" with WIDGET_IDENTITY_SECRET
 *       (computed by the shop's backend, never in the browser); all or none.
 *   data-color      the shop's colour, #rgb or #rrggbb (text on it is picked for contrast)
 *   data-title      the panel's heading (default "Chat with us")
 *   data-max-chars  refuse longer messages before sending (default 2000, the gateway's)
 * No framework and no build step, so a shop owner can paste the tag anywhere; the
 * styles live in a shadow root, so the shop's CSS and the widget's cannot collide.
 * Protocol: docs/widget-protocol.md.
 */
(function () {
  "use strict";

  if (window.__shopChatWidget) return; // a page that pastes the tag twice gets one widget
  window.__shopChatWidget = true;

  var script = document.currentScript || (function () {
    var all = document.querySelectorAll("script[src*='widget.js']");
    return all[all.length - 1];
  })();
  if (!script) return;

  var GATEWAY = new URL(script.src, location.href);
  var WS_URL = (GATEWAY.protocol === "https:" ? "wss://" : "ws://") + GATEWAY.host + "/ws/chat";
  var DATA = script.dataset;
  var CUSTOMER_ID = DATA.customerId || "";
  var SIGNATURE = DATA.signature || "";
  var EXPIRES = DATA.expires || "";
  var TITLE = DATA.title || "Chat with us";
  var MAX_CHARS = parseInt(DATA.maxChars || "2000", 10) || 2000;
  // One record per gateway, so two shops on one domain never share a conversation.
  var STORE_KEY = "shop-chat:" + GATEWAY.origin;
  var BACKOFF_START_MS = 500;
  var BACKOFF_CAP_MS = 30000;

  // ---- persistence --------------------------------------------------------

  var memoryStore = {};
  function loadRecord() {
    var raw;
    try { raw = localStorage.getItem(STORE_KEY); } catch (e) { raw = memoryStore[STORE_KEY]; }
    try { return JSON.parse(raw) || {}; } catch (e) { return {}; }
  }
  function saveRecord() {
    var raw = JSON.stringify(record);
    try { localStorage.setItem(STORE_KEY, raw); } catch (e) { memoryStore[STORE_KEY] = raw; }
  }

  var record = loadRecord();
  // A session belongs to the identity that opened it: after sign-in or sign-out
  // on a shared computer the previous person's conversation must not reappear.
  if ((record.customer || "") !== CUSTOMER_ID) record = {};
  record.customer = CUSTOMER_ID;
  record.pending = Array.isArray(record.pending) ? record.pending : [];
  saveRecord();

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // randomUUID exists only in secure contexts; plain-http test shops still need ids.
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // ---- colours ------------------------------------------------------------

  function shopColour(value) {
    // Only a hex colour: the value lands in a stylesheet, so anything else could inject CSS.
    var m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec((value || "").trim());
    if (!m) return "#2f5d50";
    var hex = m[1].length === 3 ? m[1].replace(/./g, "$&$&") : m[1];
    return "#" + hex.toLowerCase();
  }
  function luminance(hex) {
    var c = [1, 3, 5].map(function (i) {
      var v = parseInt(hex.substr(i, 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }
  var ACCENT = shopColour(DATA.color);
  // Pick whichever text colour contrasts more with the shop's colour.
  var L = luminance(ACCENT);
  var ON_ACCENT = (1.05 / (L + 0.05)) >= ((L + 0.05) / 0.05) ? "#ffffff" : "#111111";

  // ---- DOM ----------------------------------------------------------------

  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box}",
    ".root{--accent:" + ACCENT + ";--on-accent:" + ON_ACCENT + ";font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1a1a1a}",
    ".launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:60px;height:60px;border-radius:50%;border:0;background:var(--accent);color:var(--on-accent);cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center;transition:transform .15s}",
    ".launcher:hover{transform:scale(1.05)}",
    ".launcher svg{width:28px;height:28px;fill:currentColor}",
    ".badge{position:absolute;top:-2px;right:-2px;min-width:20px;height:20px;padding:0 5px;border-radius:10px;background:#c62828;color:#fff;font:600 12px/20px system-ui,sans-serif;text-align:center}",
    "button:focus-visible,textarea:focus-visible,a:focus-visible{outline:3px solid #1a73e8;outline-offset:2px}",
    ".panel{position:fixed;right:20px;bottom:92px;z-index:2147483000;width:370px;max-width:calc(100vw - 40px);height:560px;max-height:calc(100vh - 112px);display:flex;flex-direction:column;background:#fff;border-radius:14px;box-shadow:0 10px 40px rgba(0,0,0,.28);overflow:hidden;transition:opacity .18s,transform .18s}",
    ".panel[hidden]{display:none}",
    ".head{display:flex;align-items:center;gap:8px;padding:12px 14px;background:var(--accent);color:var(--on-accent)}",
    ".head h2{flex:1;margin:0;font-size:16px;font-weight:600}",
    ".close{background:transparent;border:0;color:inherit;font-size:24px;line-height:1;width:36px;height:36px;border-radius:8px;cursor:pointer}",
    ".close:focus-visible{outline-color:var(--on-accent)}",
    ".status{padding:4px 14px;font-size:13px;background:#fff4d6;color:#5c4400}",
    ".status:empty{display:none}",
    ".log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:8px;background:#f6f7f8}",
    ".msg{max-width:85%;padding:8px 12px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere}",
    ".msg.customer{align-self:flex-end;background:var(--accent);color:var(--on-accent);border-bottom-right-radius:4px}",
    ".msg.bot,.msg.agent{align-self:flex-start;background:#fff;border:1px solid #dcdfe3;border-bottom-left-radius:4px}",
    ".msg.agent{border-color:var(--accent)}",
    ".msg.system{align-self:center;max-width:95%;background:transparent;color:#4a4f55;font-size:13px;text-align:center;padding:2px 8px}",
    ".msg a{color:inherit;text-decoration:underline}",
    ".who{display:block;font-size:12px;font-weight:600;color:#4a4f55;margin-bottom:2px}",
    ".note{display:block;font-size:12px;opacity:.85;margin-top:2px}",
    ".note button{font:inherit;background:none;border:0;padding:0;color:inherit;text-decoration:underline;cursor:pointer}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    ".replies{display:flex;flex-wrap:wrap;gap:6px;align-self:flex-start;max-width:95%}",
    ".replies button{font:inherit;font-size:14px;padding:6px 12px;border-radius:16px;border:1.5px solid var(--accent);background:#fff;color:#1a1a1a;cursor:pointer}",
    ".replies button:hover:not(:disabled){background:var(--accent);color:var(--on-accent)}",
    ".replies button:disabled{opacity:.55;cursor:default;border-color:#9aa0a6}",
    ".typing{padding:0 14px 6px;font-size:13px;color:#4a4f55;background:#f6f7f8}",
    ".typing[hidden]{display:none}",
    ".dot{display:inline-block;width:6px;height:6px;margin-right:3px;border-radius:50%;background:#6b7177;animation:blink 1.2s infinite}",
    ".dot:nth-child(2){animation-delay:.2s}.dot:nth-child(3){animation-delay:.4s}",
    "@keyframes blink{0%,80%,100%{opacity:.25}40%{opacity:1}}",
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid #dcdfe3;background:#fff}",
    "textarea{flex:1;resize:none;font:inherit;padding:8px 10px;border:1.5px solid #9aa0a6;border-radius:10px;max-height:120px;color:#1a1a1a;background:#fff}",
    ".send{font:inherit;font-weight:600;padding:0 16px;border:0;border-radius:10px;background:var(--accent);color:var(--on-accent);cursor:pointer}",
    // 16px inputs stop iOS Safari zooming the page when the box gets focus.
    "@media (max-width:480px){.panel{inset:0;right:0;bottom:0;width:100%;max-width:none;height:100%;max-height:none;border-radius:0}.root.open .launcher{display:none}textarea{font-size:16px}}",
    "@media (prefers-reduced-motion:reduce){.launcher,.panel{transition:none}.launcher:hover{transform:none}.dot{animation:none;opacity:.7}}"
  ].join("\n");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) node.setAttribute(k, attrs[k]);
    if (text != null) node.textContent = text;
    return node;
  }

  var host = el("div", { id: "shop-chat-widget" });
  var shadow = host.attachShadow({ mode: "open" });
  var root = el("div", { "class": "root" });

  var launcher = el("button", { type: "button", "class": "launcher", "aria-label": "Open chat",
    "aria-expanded": "false", "aria-controls": "chat-panel" });
  launcher.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-5 4V5a2 2 0 0 1 1-2z"/></svg>';
  var badge = el("span", { "class": "badge", hidden: "" });
  badge.setAttribute("aria-hidden", "true");
  launcher.appendChild(badge);

  var panel = el("section", { id: "chat-panel", "class": "panel", role: "dialog",
    "aria-labelledby": "chat-title", hidden: "" });
  var head = el("div", { "class": "head" });
  head.appendChild(el("h2", { id: "chat-title" }, TITLE));
  var closeBtn = el("button", { type: "button", "class": "close", "aria-label": "Close chat" }, "\u00d7");
  head.appendChild(closeBtn);
  var status = el("div", { "class": "status", role: "status", "aria-live": "polite" });
  var log = el("div", { "class": "log", role: "log", "aria-live": "polite", "aria-label": "Conversation",
    tabindex: "0" });
  var typing = el("div", { "class": "typing", role: "status", "aria-live": "polite", hidden: "" });
  var form = el("form", {});
  var input = el("textarea", { rows: "1", "aria-label": "Type your message", placeholder: "Type your message\u2026",
    autocomplete: "off" });
  var sendBtn = el("button", { type: "submit", "class": "send" }, "Send");
  form.appendChild(input);
  form.appendChild(sendBtn);
  panel.appendChild(head);
  panel.appendChild(status);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(form);
  root.appendChild(panel);
  root.appendChild(launcher);
  if (shadow.adoptedStyleSheets && window.CSSStyleSheet && "replaceSync" in CSSStyleSheet.prototype) {
    // A constructed sheet is not inline style, so shops with a strict CSP need no 'unsafe-inline'.
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    shadow.adoptedStyleSheets = [sheet];
  } else {
    shadow.appendChild(el("style", {}, CSS));
  }
  shadow.appendChild(root);

  // ---- rendering ----------------------------------------------------------

  var WHO = { customer: "You", bot: "Assistant", agent: "Staff", system: "Notice" };
  var shown = {};       // message id (server or client) -> element, so nothing renders twice
  var unread = 0;

  function appendText(node, text, linkify) {
    // Text nodes only: message content never goes through innerHTML.
    var str = String(text == null ? "" : text);
    if (!linkify) { node.appendChild(document.createTextNode(str)); return; }
    var re = /https?:\/\/[^\s<>"']+/g, last = 0, m;
    while ((m = re.exec(str))) {
      var raw = m[0].replace(/[.,;:!?)\]]+$/, "");
      var url = null;
      try { url = new URL(raw); } catch (e) { url = null; }
      if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
      node.appendChild(document.createTextNode(str.slice(last, m.index)));
      var a = el("a", { href: url.href, target: "_blank", rel: "noopener noreferrer nofollow" }, raw);
      node.appendChild(a);
      last = m.index + raw.length;
      re.lastIndex = last;
    }
    node.appendChild(document.createTextNode(str.slice(last)));
  }

  function disableReplies() {
    var groups = log.querySelectorAll(".replies button:not(:disabled)");
    for (var i = 0; i < groups.length; i++) groups[i].disabled = true;
  }

  function renderMessage(msg, opts) {
    opts = opts || {};
    var from = WHO[msg.from] ? msg.from : "system";
    if (!opts.keepReplies) disableReplies(); // a newer message makes older quick replies stale
    var bubble = el("div", { "class": "msg " + from });
    if (msg.id) bubble.setAttribute("data-id", msg.id);
    if (from !== "system") bubble.appendChild(el("span", { "class": from === "customer" ? "sr" : "who" }, WHO[from] + ":"));
    if (from === "customer") bubble.lastChild.textContent = "You said:";
    var body = el("span", { "class": "text" });
    appendText(body, msg.text, from === "bot" || from === "agent");
    bubble.appendChild(body);
    if (msg.ts) bubble.title = new Date(msg.ts).toLocaleString();
    log.appendChild(bubble);
    if (msg.id) shown[msg.id] = bubble;
    var buttons = Array.isArray(msg.buttons) ? msg.buttons : [];
    if (buttons.length && from !== "customer") {
      var group = el("div", { "class": "replies", role: "group", "aria-label": "Quick replies" });
      buttons.forEach(function (b) {
        if (!b || typeof b.payload !== "string") return;
        var btn = el("button", { type: "button" }, b.title || b.payload);
        btn.addEventListener("click", function () { pressButton(b, group); });
        group.appendChild(btn);
      });
      log.appendChild(group);
      if (opts.stale) disableReplies();
    }
    log.scrollTop = log.scrollHeight;
    return bubble;
  }

  function setNote(bubble, text, retry) {
    var note = bubble.querySelector(".note");
    if (!text) { if (note) note.remove(); return; }
    if (!note) { note = el("span", { "class": "note" }); bubble.appendChild(note); }
    note.textContent = text;
    if (retry) {
      var again = el("button", { type: "button" }, "Try again");
      again.addEventListener("click", retry);
      note.appendChild(document.createTextNode(" "));
      note.appendChild(again);
    }
  }

  // Notes the widget itself showed (refusals, errors) are not in the gateway's
  // history; keep the recent ones across the history redraw that may follow.
  var recentNotes = [];
  function systemNote(text) {
    recentNotes.push(text);
    renderMessage({ from: "system", text: text }, { keepReplies: true });
  }

  function setTyping(on) {
    clearTimeout(setTyping.timer);
    if (on) {
      typing.hidden = false;
      typing.innerHTML = '<span class="dot" aria-hidden="true"></span><span class="dot" aria-hidden="true"></span><span class="dot" aria-hidden="true"></span>';
      typing.appendChild(document.createTextNode(" Assistant is typing"));
      // A lost "typing off" frame must not leave dots forever.
      setTyping.timer = setTimeout(function () { setTyping(false); }, 30000);
    } else {
      typing.hidden = true;
      typing.textContent = "";
    }
  }

  function bumpUnread() {
    if (!panel.hidden) return;
    unread += 1;
    badge.textContent = unread > 9 ? "9+" : String(unread);
    badge.hidden = false;
    launcher.setAttribute("aria-label", "Open chat, " + unread + " new message" + (unread > 1 ? "s" : ""));
  }

  // ---- sending ------------------------------------------------------------

  function findPending(id) {
    for (var i = 0; i < record.pending.length; i++) if (record.pending[i].id === id) return i;
    return -1;
  }
  function dropPending(id) {
    var i = findPending(id);
    if (i >= 0) { record.pending.splice(i, 1); saveRecord(); }
  }

  function showPending(p) {
    var bubble = shown[p.id] || renderMessage({ id: p.id, from: "customer", text: p.title || p.text });
    bubble.classList.add("pending");
    setNote(bubble, "sending\u2026");
  }

  function queue(p) {
    record.pending.push(p);
    saveRecord();
    showPending(p);
    flush();
  }

  function frameFor(p) {
    return p.payload != null ? { type: "message", id: p.id, payload: p.payload, title: p.title }
                             : { type: "message", id: p.id, text: p.text };
  }

  function flush() {
    if (!ready) return;
    record.pending.forEach(function (p) {
      if (p.failed || sentOn[p.id] === connectionId) return;
      sentOn[p.id] = connectionId; // a resend after a reconnect keeps the same client id
      ws.send(JSON.stringify(frameFor(p)));
    });
  }

  function sendText() {
    var text = input.value;
    if (!text.trim()) return;
    if (text.length > MAX_CHARS) {
      // Refuse here too: the draft stays, and an oversized frame never cycles through reconnects.
      systemNote("That message is too long (" + text.length + " characters; the limit is " + MAX_CHARS + "). Please shorten it.");
      input.focus();
      return;
    }
    input.value = "";
    autosize();
    queue({ id: uuid(), text: text });
    connect();
  }

  function pressButton(b, group) {
    var btns = group.querySelectorAll("button");
    for (var i = 0; i < btns.length; i++) btns[i].disabled = true;
    queue({ id: uuid(), payload: b.payload, title: b.title || b.payload });
    connect();
    input.focus();
  }

  function retry(id) {
    return function () {
      var i = findPending(id);
      if (i < 0) return;
      record.pending[i].failed = false;
      delete sentOn[id];
      saveRecord();
      showPending(record.pending[i]);
      flush();
      connect();
    };
  }

  // ---- connection ---------------------------------------------------------

  var sentOn = {}; // client id -> connection it went out on; memory only, a reload must resend
  var ws = null, ready = false, connectionId = 0, attempts = 0, reconnectTimer = null, historyTimer = null;

  function connect() {
    if (ws || reconnectTimer) return;
    var params = new URLSearchParams();
    if (record.session) params.set("session", record.session);
    if (CUSTOMER_ID && SIGNATURE) {
      params.set("customer_id", CUSTOMER_ID);
      if (EXPIRES) params.set("expires", EXPIRES);
      params.set("signature", SIGNATURE);
    }
    var qs = params.toString();
    var socket;
    try { socket = new WebSocket(WS_URL + (qs ? "?" + qs : "")); } catch (e) { scheduleReconnect(); return; }
    ws = socket;
    connectionId += 1;
    socket.onopen = function () {
      // History comes first; sending before it would render our own messages twice.
      historyTimer = setTimeout(function () { ready = true; flush(); }, 3000);
    };
    socket.onmessage = function (ev) {
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      if (frame && typeof frame.type === "string") handle(frame);
    };
    socket.onclose = function (ev) {
      if (ws !== socket) return;
      ws = null;
      ready = false;
      clearTimeout(historyTimer);
      setTyping(false);
      if (ev.code === 1009) tooBigInFlight();
      scheduleReconnect();
    };
  }

  function tooBigInFlight() {
    record.pending.forEach(function (p) {
      if (sentOn[p.id] !== connectionId) return;
      p.failed = true;
      if (shown[p.id]) setNote(shown[p.id], "not sent: too long", null);
    });
    saveRecord();
  }

  function scheduleReconnect() {
    if (reconnectTimer) return;
    attempts += 1;
    // Full jitter, so a gateway restart is not met by every browser at the same instant.
    var ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_START_MS * Math.pow(2, attempts - 1));
    var delay = Math.round(Math.random() * ceiling);
    status.textContent = "reconnecting\u2026";
    reconnectTimer = setTimeout(function () { reconnectTimer = null; connect(); }, delay);
  }

  function reconnectNow() {
    if (ws) return;
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    connect();
  }

  function handle(frame) {
    switch (frame.type) {
      case "session":
        if (typeof frame.session !== "string") return;
        if (record.session && record.session !== frame.session) resetView(); // the gateway began a new conversation
        record.session = frame.session;
        saveRecord();
        return;
      case "history":
        // Only a connection that got this far counts as healthy: one the gateway
        // accepts and closes at once (rate limit) keeps backing off.
        attempts = 0;
        status.textContent = "";
        renderHistory(Array.isArray(frame.messages) ? frame.messages : []);
        clearTimeout(historyTimer);
        ready = true;
        flush();
        return;
      case "ack":
        var bubble = shown[frame.id];
        dropPending(frame.id);
        if (bubble) { bubble.classList.remove("pending"); setNote(bubble, ""); }
        return;
      case "typing":
        setTyping(!!frame.on);
        return;
      case "message":
        if (frame.id && shown[frame.id]) return;
        if (frame.from === "customer" && frame.client_id && shown[frame.client_id]) return;
        if (frame.from !== "customer") setTyping(false);
        renderMessage(frame);
        if (frame.from !== "customer") bumpUnread();
        return;
      case "error":
        handleError(frame);
        return;
    }
  }

  function handleError(frame) {
    var text = typeof frame.text === "string" && frame.text ? frame.text : "Something went wrong.";
    var i = frame.id ? findPending(frame.id) : -1;
    if (i >= 0) {
      var p = record.pending[i];
      var bubble = shown[p.id];
      if (frame.code === "too_long" || frame.code === "bad_payload") {
        // Not stored and never will be: take the bubble away, and give a typed draft back.
        record.pending.splice(i, 1);
        saveRecord();
        if (bubble) { bubble.remove(); delete shown[p.id]; }
        if (frame.code === "too_long" && p.text != null && !input.value) { input.value = p.text; autosize(); }
      } else {
        p.failed = true;
        saveRecord();
        if (bubble) setNote(bubble, "not sent", retry(p.id));
      }
    }
    setTyping(false);
    systemNote(text);
    if (!panel.hidden && frame.code === "too_long") input.focus();
  }

  function resetView() {
    log.textContent = "";
    shown = {};
  }

  function renderHistory(messages) {
    log.setAttribute("aria-busy", "true"); // announce the result, not every line of a replay
    resetView();
    var byClientId = {};
    messages.forEach(function (m, idx) {
      if (!m || typeof m !== "object") return;
      if (m.id && shown[m.id]) return;
      renderMessage(m, { stale: idx !== messages.length - 1 });
      if (m.client_id) { shown[m.client_id] = shown[m.id]; byClientId[m.client_id] = true; }
    });
    // Messages the gateway already stored need no resend; the rest are shown again as pending.
    record.pending = record.pending.filter(function (p) { return !byClientId[p.id] && !shown[p.id]; });
    saveRecord();
    record.pending.forEach(function (p) {
      showPending(p);
      if (p.failed) setNote(shown[p.id], "not sent", retry(p.id));
    });
    recentNotes.forEach(function (text) { renderMessage({ from: "system", text: text }, { keepReplies: true }); });
    recentNotes = [];
    log.removeAttribute("aria-busy");
    log.scrollTop = log.scrollHeight;
  }

  // ---- open / close -------------------------------------------------------

  function openPanel() {
    panel.hidden = false;
    root.classList.add("open");
    launcher.setAttribute("aria-expanded", "true");
    launcher.setAttribute("aria-label", "Close chat");
    unread = 0;
    badge.hidden = true;
    connect();
    log.scrollTop = log.scrollHeight;
    input.focus();
  }

  function closePanel() {
    panel.hidden = true;
    root.classList.remove("open");
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", "Open chat");
    launcher.focus();
  }

  function autosize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  }

  launcher.addEventListener("click", function () { if (panel.hidden) openPanel(); else closePanel(); });
  closeBtn.addEventListener("click", closePanel);
  root.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && !panel.hidden) { ev.preventDefault(); closePanel(); }
  });
  form.addEventListener("submit", function (ev) { ev.preventDefault(); sendText(); });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); sendText(); }
  });
  input.addEventListener("input", autosize);
  window.addEventListener("online", reconnectNow);

  function mount() {
    document.body.appendChild(host);
    // Returning visitors reconnect at once so replies that came while away are waiting;
    // first-time visitors get no session until they open the chat.
    if (record.session || record.pending.length) connect();
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();

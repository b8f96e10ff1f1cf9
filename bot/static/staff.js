/* Staff console: live updates over /staff/ws and forms posted in the background.
   Everything works without this script (forms post and the page reloads);
   with it, the queue and the transcript update as things happen. */
(function () {
  "use strict";
  var body = document.body;
  var page = body.getAttribute("data-page");
  var csrf = body.getAttribute("data-csrf") || "";

  function signInAgain() {
    location.href = "/staff/sign-in?next=" + encodeURIComponent(location.pathname);
  }

  // One socket per tab, reconnecting with back-off. `onOpen` catches up on
  // whatever happened while it was away (the server only sends what is new).
  function live(query, onFrame, onOpen) {
    var delay = 500;
    function connect() {
      var scheme = location.protocol === "https:" ? "wss:" : "ws:";
      var ws = new WebSocket(scheme + "//" + location.host + "/staff/ws" + query);
      ws.onopen = function () {
        delay = 500;
        onOpen(function () { body.setAttribute("data-live", "on"); });
      };
      ws.onmessage = function (event) {
        var frame;
        try { frame = JSON.parse(event.data); } catch (err) { return; }
        onFrame(frame);
      };
      ws.onclose = function () {
        body.setAttribute("data-live", "off");
        // A refused handshake looks like any other drop: ask whether we are still signed in.
        fetch("/staff/queue", { credentials: "same-origin" }).then(function (response) {
          if (response.status === 401) { signInAgain(); return; }
          setTimeout(connect, delay);
          delay = Math.min(delay * 2, 10000);
        }, function () {
          setTimeout(connect, delay);
          delay = Math.min(delay * 2, 10000);
        });
      };
    }
    connect();
  }

  function getText(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (response) {
      if (response.status === 401) { signInAgain(); return null; }
      return response.ok ? response.text() : null;
    });
  }

  // -- the queue ------------------------------------------------------------------
  if (page === "queue") {
    var queue = document.getElementById("queue");
    var announcer = document.getElementById("live-status");
    var waitingCount = function () {
      var el = queue.querySelector("[data-testid=waiting-count]");
      return el ? parseInt(el.textContent, 10) || 0 : 0;
    };
    var shown = waitingCount();
    var replaceQueue = function (html, event) {
      // Keep keyboard focus on the same row's link across the redraw.
      var focused = document.activeElement && document.activeElement.closest
        ? document.activeElement.closest("tr[data-conversation-id]") : null;
      var focusedId = focused && queue.contains(focused) ? focused.getAttribute("data-conversation-id") : null;
      queue.innerHTML = html;
      if (focusedId) {
        var link = queue.querySelector('tr[data-conversation-id="' + focusedId + '"] a');
        if (link) link.focus();
      }
      var now = waitingCount();
      if (event === "handoff" && now > shown) announcer.textContent = "A new customer is waiting. " + now + " waiting.";
      shown = now;
      document.title = (now ? "(" + now + ") " : "") + "Queue · Staff console";
    };
    live("", function (frame) {
      if (frame.type === "queue" && typeof frame.html === "string") replaceQueue(frame.html, frame.event);
    }, function (ready) {
      getText("/staff/queue").then(function (html) { if (html !== null) replaceQueue(html, null); ready(); });
    });
  }

  // -- one conversation -------------------------------------------------------------
  if (page === "conversation") {
    var conversationId = body.getAttribute("data-conversation-id");
    var log = document.getElementById("transcript");
    var statusLine = document.getElementById("status");
    var alertBox = document.getElementById("alert");
    var replyText = document.getElementById("reply-text");
    var WHO = { customer: "Customer", bot: "Assistant", agent: "Staff", system: "Notice" };

    var showAlert = function (text) { alertBox.textContent = text; alertBox.hidden = false; };
    var hideAlert = function () { alertBox.textContent = ""; alertBox.hidden = true; };

    var span = function (cls, text) {
      var el = document.createElement("span");
      el.className = cls;
      el.textContent = text;
      return el;
    };

    var appendMessage = function (frame) {
      if (!frame.id || log.querySelector('[data-message-id="' + frame.id + '"]')) return;
      var from = WHO[frame.from] ? frame.from : "system";
      var li = document.createElement("li");
      li.className = "msg " + from;
      li.setAttribute("data-message-id", frame.id);
      li.appendChild(span("who", from === "agent" ? (frame.staff_name || "Staff") + " (staff)" : WHO[from]));
      var when = document.createElement("time");
      if (frame.ts) {
        when.dateTime = frame.ts;
        when.textContent = new Date(frame.ts).toLocaleString("en-GB", {
          day: "2-digit", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit"
        });
      }
      li.appendChild(when);
      if (frame.text) li.appendChild(span("text", frame.text));
      var titles = (frame.buttons || []).map(function (b) { return b.title; });
      if (titles.length) li.appendChild(span("options", "Options offered: " + titles.join(" · ")));
      log.appendChild(li);
      li.scrollIntoView({ block: "nearest" });
    };

    var refreshTranscript = function (ready) {
      getText("/staff/conversations/" + encodeURIComponent(conversationId) + "/transcript").then(function (html) {
        if (html !== null) log.innerHTML = html;
        if (ready) ready();
      });
    };

    var applyControls = function (controls) {
      if (!controls || !controls.state) return;
      statusLine.textContent = controls.status;
      statusLine.setAttribute("data-state", controls.state);
      document.getElementById("assign-form").hidden = !controls.can_assign;
      document.getElementById("reply-fields").disabled = !controls.can_reply;
      document.getElementById("resolve-form").hidden = !controls.can_resolve;
    };

    // Every state change is pushed over the socket, so the socket's latest frame
    // is the truth; an action's HTTP response may arrive after a newer push
    // (resolve, then the bot takes over) and must not roll the page back.
    var stateFrames = 0;
    live("?conversation=" + encodeURIComponent(conversationId), function (frame) {
      if (frame.type === "message") appendMessage(frame);
      else if (frame.type === "state") { stateFrames += 1; applyControls(frame.controls); }
      else if (frame.type === "reload") refreshTranscript(null);
    }, refreshTranscript);

    var forms = document.querySelectorAll("form[data-ajax]");
    Array.prototype.forEach.call(forms, function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var button = form.querySelector("button[type=submit]");
        var data = new URLSearchParams(new FormData(form));
        var framesAtSend = stateFrames;
        if (button) button.disabled = true;
        fetch(form.action, {
          method: "POST",
          credentials: "same-origin",
          headers: {
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
            "X-CSRF-Token": csrf
          },
          body: data.toString()
        }).then(function (response) {
          return response.json().then(function (json) { return { response: response, json: json }; },
            function () { return { response: response, json: {} }; });
        }).then(function (result) {
          if (result.response.status === 401) { signInAgain(); return; }
          if (!result.response.ok) { showAlert(result.json.error || "That didn't work. Please try again."); return; }
          hideAlert();
          if (result.json.controls && stateFrames === framesAtSend) applyControls(result.json.controls);
          if (form.getAttribute("data-ajax") === "reply") {
            replyText.value = "";
            replyText.focus();
            if (!log.querySelector('[data-message-id="' + result.json.message_id + '"]')) refreshTranscript(null);
          }
        }, function () {
          showAlert("The console can't reach the server. Check the connection and try again.");
        }).then(function () {
          if (button) button.disabled = false;
        });
      });
    });

    var canned = document.getElementById("canned");
    if (canned) {
      canned.addEventListener("change", function () {
        if (!canned.value) return;
        replyText.value = replyText.value ? replyText.value.replace(/\s*$/, " ") + canned.value : canned.value;
        canned.value = "";
        replyText.focus();
      });
    }
  }
})();

// Live pages, on top of pages that work without script:
// - the conversation list ([data-live-list]) reloads its table, status
//   counts, folders and pager from the server when a conversation is created or
//   changed (events from /events, server-sent);
// - a conversation ([data-live-conversation]) inserts threads that arrive
//   and shows its new status;
// - the conversation page beats every second to .../presence and shows who
//   else is viewing it or writing a reply, and warns a second writer.
(function () {
  "use strict";
  var BEAT_MS = 1000;

  function fetchPage(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } }).then(function (r) {
      if (r.redirected || !r.ok) throw new Error("status " + r.status);
      return r.text();
    }).then(function (html) { return new DOMParser().parseFromString(html, "text/html"); });
  }

  // debounce runs fn once after a burst of calls (a commit of many mails).
  function debounce(fn, ms) {
    var timer = 0;
    return function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(fn, ms);
    };
  }

  function listen(handlers) {
    var es = new EventSource("/events");
    Object.keys(handlers).forEach(function (name) {
      es.addEventListener(name, function (e) { handlers[name](JSON.parse(e.data)); });
    });
  }

  function liveList() {
    var reload = debounce(function () {
      fetchPage(window.location.href).then(function (doc) {
        // The rows the agent checked for a bulk action stay checked.
        var checked = {};
        document.querySelectorAll("#conversations input[name=ids]:checked").forEach(function (b) { checked[b.value] = true; });
        ["conversations", "status-tabs", "list-pages", "folder-nav"].forEach(function (id) {
          var old = document.getElementById(id), fresh = doc.getElementById(id);
          if (old && fresh) old.replaceWith(fresh);
        });
        document.querySelectorAll("#conversations input[name=ids]").forEach(function (b) { b.checked = !!checked[b.value]; });
      }).catch(function () {});
    }, 200);
    listen({ "conversation.created": reload, "conversation.updated": reload });
  }

  function liveConversation(el) {
    var id = Number(el.getAttribute("data-live-conversation"));
    // The conversation's own page, also after a refused form was answered
    // at the form's address (/conversations/N/update is POST only).
    var url = "/conversations/" + id + window.location.search.replace(/([?&])notice=[^&]*&?/, "$1");
    var reload = debounce(function () {
      fetchPage(url).then(function (doc) {
        var threads = document.querySelectorAll("article[data-thread]");
        var last = threads[threads.length - 1];
        doc.querySelectorAll("article[data-thread]").forEach(function (a) {
          if (document.getElementById(a.id) || !last) return;
          last.after(a);
          last = a;
        });
        var st = document.querySelector("[data-field=status]"), fresh = doc.querySelector("[data-field=status]");
        if (st && fresh) st.textContent = fresh.textContent;
      }).catch(function () {});
    }, 100);
    function mine(fn) { return function (ev) { if (ev.conversation_id === id) fn(); }; }
    listen({ "thread.created": mine(reload), "conversation.updated": mine(reload) });
    presence(el, id);
  }

  function presence(el, id) {
    var csrf = document.querySelector("input[name=_csrf]");
    var reply = document.querySelector("textarea[name=body][data-reply]");
    var warning = document.getElementById("reply-warning");
    if (!csrf || !reply) return;
    var beatURL = "/conversations/" + id + "/presence";
    var lastState = "";
    function state() { return reply.value.trim() !== "" ? "typing" : "viewing"; }
    function form(s) {
      var f = new FormData();
      f.append("_csrf", csrf.value);
      f.append("state", s);
      return f;
    }
    function show(answer) {
      var others = answer.here.filter(function (p) { return p.user_id !== answer.user_id; });
      el.replaceChildren();
      el.hidden = others.length === 0;
      if (others.length) el.append("Also here: ");
      others.forEach(function (p, i) {
        var s = document.createElement("span");
        s.setAttribute("data-presence-user", p.user_id);
        s.setAttribute("data-typing", p.typing ? "true" : "false");
        s.textContent = p.name + (p.typing ? " (writing a reply)" : " (viewing)");
        if (i > 0) el.append(" · ");
        el.append(s);
      });
      var writers = others.filter(function (p) { return p.typing; }).map(function (p) { return p.name; });
      var writing = document.activeElement === reply || reply.value.trim() !== "";
      warning.hidden = !(writing && writers.length);
      warning.textContent = writers.length ? writers.join(", ") + " is also writing a reply to this conversation." : "";
    }
    function beat() {
      lastState = state();
      fetch(beatURL, { method: "POST", credentials: "same-origin", body: form(lastState) })
        .then(function (r) { if (!r.ok) throw new Error("status " + r.status); return r.json(); })
        .then(show).catch(function () {});
    }
    beat();
    window.setInterval(function () { if (!document.hidden) beat(); }, BEAT_MS);
    reply.addEventListener("input", function () { if (state() !== lastState) beat(); });
    reply.addEventListener("focus", beat);
    window.addEventListener("pagehide", function () { navigator.sendBeacon(beatURL, form("gone")); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.EventSource) return;
    if (document.querySelector("[data-live-list]")) liveList();
    var conv = document.querySelector("[data-live-conversation]");
    if (conv) liveConversation(conv);
  });
})();

// Keyboard shortcuts of the conversation list and a conversation, on top
// of pages that work without them; "?" lists them in a dialog. A key
// never acts while the agent types in a field, nor with Ctrl, Alt or Meta.
// The list remembers its order (sessionStorage, per tab), so j and k on a
// conversation go to the next and previous one of the list the agent
// came from.
(function () {
  "use strict";
  var LIST_KEY = "helpdesk.list";          // {ids: ["12", ...], url: "/?status=active", last: "12"}
  var SEARCH_KEY = "helpdesk.focusSearch"; // "/" on a conversation: the list focuses its search

  var HELP = [
    ["On the list", [["j", "next conversation"], ["k", "previous conversation"], ["Enter or o", "open the marked conversation"]]],
    ["On a conversation", [["j", "next conversation of the list"], ["k", "previous conversation of the list"],
      ["r", "write a reply"], ["n", "write a note"], ["a", "choose the assignee"], ["c", "close the conversation"]]],
    ["Anywhere here", [["/", "search"], ["?", "this help"], ["Esc", "close this help"]]]
  ];

  function save(key, value) {
    try { window.sessionStorage.setItem(key, value); } catch (e) { /* storage off: the shortcut does less */ }
  }
  function load(key) {
    try { return window.sessionStorage.getItem(key); } catch (e) { return null; }
  }
  function savedList() {
    try { return JSON.parse(load(LIST_KEY)) || { ids: [], url: "/" }; } catch (e) { return { ids: [], url: "/" }; }
  }

  // typing: the key goes into a field (or a menu), not to the shortcuts.
  function typing(el) {
    return !!el && (/^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) || el.isContentEditable);
  }

  function helpDialog() {
    var d = document.getElementById("shortcuts-help");
    if (d) return d;
    d = document.createElement("dialog");
    d.id = "shortcuts-help";
    d.className = "shortcuts-help";
    d.setAttribute("aria-labelledby", "shortcuts-help-title");
    var h = document.createElement("h2");
    h.id = "shortcuts-help-title";
    h.textContent = "Keyboard shortcuts";
    d.append(h);
    HELP.forEach(function (group) {
      var title = document.createElement("h3");
      title.textContent = group[0];
      var dl = document.createElement("dl");
      group[1].forEach(function (k) {
        var dt = document.createElement("dt"), dd = document.createElement("dd");
        k[0].split(" or ").forEach(function (key, i) {
          if (i) dt.append(" or ");
          var kbd = document.createElement("kbd");
          kbd.textContent = key;
          dt.append(kbd);
        });
        dd.textContent = k[1];
        dl.append(dt, dd);
      });
      d.append(title, dl);
    });
    var form = document.createElement("form");
    form.method = "dialog";
    var close = document.createElement("button");
    close.type = "submit";
    close.textContent = "Close";
    close.autofocus = true;
    form.append(close);
    d.append(form);
    document.body.append(d);
    return d;
  }

  function showHelp() {
    var d = helpDialog();
    if (!d.open) d.showModal();
  }

  // helpButton puts a way to the help into the page's header, for those
  // who do not know to press "?".
  function helpButton() {
    var me = document.querySelector("header.top .me");
    if (!me) return;
    var b = document.createElement("button");
    b.type = "button";
    b.className = "link";
    b.id = "shortcuts-button";
    b.textContent = "Shortcuts";
    b.setAttribute("aria-keyshortcuts", "?");
    b.addEventListener("click", showHelp);
    me.prepend(b);
  }

  function focusSearch() {
    var q = document.querySelector("form[role=search] input[name=q]");
    if (q) {
      q.focus();
      q.select();
      return true;
    }
    return false;
  }

  function listPage() {
    var current = ""; // the marked conversation's id
    function rows() {
      return Array.from(document.querySelectorAll("#conversations tr[data-conversation]"));
    }
    function link(row) {
      return row.querySelector("a[href^='/conversations/']");
    }
    function remember() {
      save(LIST_KEY, JSON.stringify({
        ids: rows().map(function (r) { return r.getAttribute("data-conversation"); }),
        url: window.location.pathname + window.location.search,
        last: current
      }));
    }
    function mark(focus) {
      rows().forEach(function (r) {
        var on = r.getAttribute("data-conversation") === current;
        r.classList.toggle("kb-current", on);
        if (on) r.setAttribute("aria-current", "true"); else r.removeAttribute("aria-current");
        if (on && focus && link(r)) link(r).focus();
      });
    }
    function move(step) {
      var rs = rows();
      if (!rs.length) return;
      var i = rs.findIndex(function (r) { return r.getAttribute("data-conversation") === current; });
      i = i < 0 ? (step > 0 ? 0 : rs.length - 1) : Math.min(rs.length - 1, Math.max(0, i + step));
      current = rs[i].getAttribute("data-conversation");
      mark(true);
    }
    function open() {
      var row = rows().find(function (r) { return r.getAttribute("data-conversation") === current; });
      if (!row || !link(row)) return false;
      remember();
      window.location.href = link(row).href;
      return true;
    }
    // The conversation of the list the agent was on last stays marked.
    current = savedList().last || "";
    mark(false);
    remember();
    window.addEventListener("pagehide", remember);
    // The live list replaces its table: mark the row again.
    var main = document.getElementById("main");
    if (main && window.MutationObserver) {
      new MutationObserver(function () {
        var row = document.querySelector("#conversations tr.kb-current");
        if (current && !row) mark(false);
      }).observe(main, { childList: true, subtree: true });
    }
    if (load(SEARCH_KEY)) {
      save(SEARCH_KEY, "");
      focusSearch();
    }
    return {
      j: function () { move(1); },
      k: function () { move(-1); },
      o: open,
      Enter: function () {
        var a = document.activeElement;
        return (!a || a === document.body) && open(); // a focused link or button opens itself
      }
    };
  }

  function conversationPage(id) {
    var shown = savedList();
    if (shown.ids.indexOf(id) >= 0) {
      shown.last = id;
      save(LIST_KEY, JSON.stringify(shown));
    }
    function go(step) {
      var list = savedList(), i = list.ids.indexOf(id);
      if (i < 0 || i + step < 0 || i + step >= list.ids.length) return;
      window.location.href = "/conversations/" + list.ids[i + step];
    }
    function focus(sel) {
      var el = document.querySelector(sel);
      if (el) el.focus();
    }
    [["textarea[name=body]", "r"], ["textarea[name=note]", "n"], ["select#assignee", "a"]].forEach(function (p) {
      var el = document.querySelector(p[0]);
      if (el) el.setAttribute("aria-keyshortcuts", p[1]);
    });
    return {
      j: function () { go(1); },
      k: function () { go(-1); },
      r: function () { focus("textarea[name=body]"); },
      n: function () { focus("textarea[name=note]"); },
      a: function () { focus("select#assignee"); },
      c: function () {
        // The form's own Save: status and assignee as shown, the page's
        // version, and whatever is typed, kept if the change is refused.
        var form = document.getElementById("conversation-form"), status = document.getElementById("status");
        if (!form || !status) return;
        status.value = "closed";
        form.requestSubmit();
      },
      "/": function () {
        save(SEARCH_KEY, "1");
        window.location.href = savedList().url || "/";
      }
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    var conv = document.querySelector("[data-live-conversation]");
    var keys = document.getElementById("conversations") ? listPage()
      : conv ? conversationPage(conv.getAttribute("data-live-conversation")) : null;
    if (!keys) return;
    if (!keys["/"]) keys["/"] = focusSearch;
    keys["?"] = showHelp;
    helpButton();
    // A key that focused a field must not type itself into it. A browser
    // sends no keypress for a keydown that was prevented, but some
    // sources of key events (automation) still do: that one is dropped
    // too, until the key is released.
    var handled = "";
    document.addEventListener("keydown", function (e) {
      if (e.defaultPrevented || e.ctrlKey || e.altKey || e.metaKey || e.isComposing) return;
      if (typing(e.target) || document.querySelector("dialog[open]")) return;
      var act = Object.prototype.hasOwnProperty.call(keys, e.key) && keys[e.key];
      if (!act) return;
      // Enter acts only when it opens something; every other key is ours.
      if (act() === false && e.key === "Enter") return;
      e.preventDefault();
      handled = e.key;
    });
    document.addEventListener("keypress", function (e) {
      if (handled && e.key === handled) e.preventDefault();
    }, true);
    document.addEventListener("keyup", function () { handled = ""; }, true);
  });
})();

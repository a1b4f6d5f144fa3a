// The reply box of the conversation page: the agent's draft is saved on
// the server while they type (a second after the last key, and when the
// page is left) and deleted with the reply; "Insert" puts the chosen saved
// reply at the cursor. Without script the page still works: drafts are
// not saved, and "Insert" adds the saved reply at the end, on the server.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var reply = document.querySelector("textarea[data-draft-url]");
    var form = document.getElementById("conversation-form");
    if (!reply || !form) return;
    var url = reply.getAttribute("data-draft-url");
    var csrf = form.querySelector("input[name=_csrf]").value;
    var state = document.getElementById("draft-state");
    var stored = reply.value; // what the server holds
    var timer = null;
    var sending = false; // the reply is being sent: its draft goes with it

    function show(text) { if (state) state.textContent = text; }
    function schedule(ms) {
      window.clearTimeout(timer);
      timer = window.setTimeout(save, ms);
    }
    function save() {
      window.clearTimeout(timer);
      timer = null;
      var body = reply.value;
      if (sending || body === stored) return;
      var data = new URLSearchParams();
      data.set("_csrf", csrf);
      data.set("body", body);
      data.set("version", form.querySelector("input[name=version]").value);
      // keepalive lets a save started as the page is left finish (up to 64 KB).
      fetch(url, { method: "POST", body: data, credentials: "same-origin", keepalive: body.length < 30000 })
        .then(function (r) {
          if (!r.ok) throw new Error("status " + r.status);
          stored = body;
          show(body.trim() === "" ? "" : "Draft saved.");
        })
        .catch(function () {
          show("Draft not saved; trying again.");
          schedule(5000);
        });
    }

    reply.addEventListener("input", function () { schedule(1000); });
    form.addEventListener("submit", function (e) {
      var by = e.submitter && e.submitter.getAttribute("formaction") || "";
      if (/\/replies$/.test(by)) {
        sending = true; // the server deletes the draft with the reply
        window.clearTimeout(timer);
        timer = null;
      } else if (timer) {
        save(); // another action: keep the draft current as the page reloads
      }
    });
    window.addEventListener("pagehide", function () { if (timer) save(); });

    var pick = document.getElementById("saved-reply");
    var insert = document.getElementById("insert-saved-reply");
    if (pick && insert) {
      insert.addEventListener("click", function (e) {
        var opt = pick.options[pick.selectedIndex];
        if (!opt || !opt.value) return; // the server says to choose one
        e.preventDefault();
        var text = opt.getAttribute("data-body");
        reply.focus();
        reply.setRangeText(text, reply.selectionStart, reply.selectionEnd, "end");
        reply.dispatchEvent(new Event("input", { bubbles: true }));
        pick.selectedIndex = 0;
      });
    }
  });
})();

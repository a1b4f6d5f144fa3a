// Auto-refresh: an element with data-refresh="SECONDS" is reloaded every
// SECONDS from data-refresh-url (its page's GET address; after a form post
// the address bar is set to it too, so a reload does not post again),
// while the tab is visible and no form field in it has focus. No
// framework, no build step.
(function () {
  "use strict";
  function refresh(el) {
    if (document.hidden) return;
    var a = document.activeElement;
    if (a && el.contains(a) && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName)) return;
    fetch(el.getAttribute("data-refresh-url") || window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.redirected || !r.ok) throw new Error("status " + r.status);
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById(el.id);
        if (fresh) el.replaceWith(fresh), start(fresh);
      })
      .catch(function () {
        var s = el.querySelector("[data-refresh-state]");
        if (s) s.textContent = "refresh failed; retrying";
        start(el);
      });
  }
  function start(el) {
    var secs = parseInt(el.getAttribute("data-refresh"), 10);
    if (!(secs > 0)) return;
    window.setTimeout(function () { refresh(el); }, secs * 1000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh-url]").forEach(function (el) {
      var u = el.getAttribute("data-refresh-url");
      if (u && u !== window.location.pathname) window.history.replaceState(null, "", u);
    });
    document.querySelectorAll("[data-refresh][id]").forEach(start);
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (e) {
        if (!window.confirm(f.getAttribute("data-confirm"))) e.preventDefault();
      });
    });
    // Enter in a box with data-enter="ID" presses button ID, not the
    // form's first button (a page-wide form with several actions). The
    // keypress that would submit by the first button is held back too.
    // The folders sidebar is open beside the list on wide screens and
    // folded into its summary on narrow ones.
    document.querySelectorAll("details[data-open-wide]").forEach(function (d) {
      if (window.matchMedia("(min-width: 961px)").matches) d.open = true;
    });
    // "Select all on page" checks every row's box of its form.
    document.querySelectorAll("input[data-select-all]").forEach(function (all) {
      all.addEventListener("change", function () {
        all.form.querySelectorAll("input[name=ids]").forEach(function (box) { box.checked = all.checked; });
      });
    });
    document.querySelectorAll("input[data-enter]").forEach(function (box) {
      box.addEventListener("keydown", function (e) {
        var b = document.getElementById(box.getAttribute("data-enter"));
        if (e.key === "Enter" && b) e.preventDefault(), b.click();
      });
      box.addEventListener("keypress", function (e) {
        if (e.key === "Enter") e.preventDefault();
      });
    });
    // Files over the composer's limits are refused as they are chosen,
    // before anything is uploaded (the server refuses them too).
    document.querySelectorAll("input[type=file][data-max-file]").forEach(function (input) {
      input.addEventListener("change", function () {
        var perFile = +input.getAttribute("data-max-file"), perReply = +input.getAttribute("data-max-total");
        var size = function (n) { return n < 1048576 ? (n / 1024).toFixed(1) + " KiB" : (n / 1048576).toFixed(1) + " MiB"; };
        var total = 0, msg = "";
        Array.prototype.forEach.call(input.files, function (f) {
          total += f.size;
          if (!msg && f.size > perFile) msg = f.name + " is " + size(f.size) + ": each file may be at most " + size(perFile) + ".";
        });
        if (!msg && total > perReply) msg = "The files are " + size(total) + " together: a reply may carry at most " + size(perReply) + ".";
        var out = document.getElementById("files-error");
        if (out) out.textContent = msg, out.hidden = !msg;
        if (msg) input.value = "";
      });
    });
  });
})();

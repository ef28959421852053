// Keyboard shortcuts for the queue and the ticket page. Everything they do is a link or a form that
// works without this file: it only moves the focus and follows links.
(function () {
  "use strict";

  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("table.queue tbody tr"))
      .filter(function (row) { return row.querySelector("a[href]"); });
  }

  var current = -1;

  function select(index) {
    var list = rows();
    if (!list.length) { return; }
    current = Math.max(0, Math.min(index, list.length - 1));
    list.forEach(function (row, n) { row.classList.toggle("selected", n === current); });
    var link = list[current].querySelector("td a[href]");
    if (link) { link.focus(); }
  }

  function focusField(selector) {
    var field = document.querySelector(selector);
    if (!field) { return false; }
    var details = field.closest("details");
    if (details) { details.open = true; }
    field.focus();
    field.scrollIntoView({ block: "center" });
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var help = document.getElementById("shortcuts");
    switch (event.key) {
      case "j": select(current + 1); break;
      case "k": select(current - 1); break;
      case "r": if (!focusField("#reply textarea")) { return; } break;
      case "n": if (!focusField("#note textarea")) { return; } break;
      case "a": if (!focusField("#assign select")) { return; } break;
      case "?":
        if (help && typeof help.showModal === "function") { help.showModal(); }
        break;
      default: return;
    }
    event.preventDefault();
  });
})();

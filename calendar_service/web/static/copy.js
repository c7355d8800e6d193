/* Subscribe page: a "Copy" button beside each copyable field (the calendar address, the
   embed code). Without this script the fields stay selectable, to copy by hand. */
(function () {
  "use strict";
  function say(status, text) {
    // Emptied first, so that a second copy is announced again.
    status.textContent = "";
    window.requestAnimationFrame(function () { status.textContent = text; });
  }
  function copyBySelection(field) {
    field.focus();
    field.select();
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }
  document.querySelectorAll(".copyable").forEach(function (box) {
    var field = box.querySelector("input.copy, textarea.copy");
    var label = box.querySelector("label");
    if (!field) { return; }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "copy-button";
    button.textContent = "Copy";
    if (label) {
      var what = document.createElement("span");
      what.className = "visually-hidden";
      what.textContent = " " + label.textContent.toLowerCase();
      button.appendChild(what);
    }
    var status = document.createElement("span");
    status.className = "copy-status";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    button.addEventListener("click", function () {
      var text = field.value;
      // navigator.clipboard exists only in a secure context (https, or this machine).
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () {
          say(status, "Copied");
        }, function () {
          say(status, copyBySelection(field) ? "Copied" : "Selected: press Ctrl+C to copy");
        });
      } else {
        say(status, copyBySelection(field) ? "Copied" : "Selected: press Ctrl+C to copy");
      }
    });
    box.appendChild(button);
    box.appendChild(status);
  });
}());

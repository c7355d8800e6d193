/* calendar-service embed loader: replaces its own <script> tag with a self-sizing iframe.
   Usage: <script src="https://HOST/embed.js" data-audience="schools" data-view="list" async></script> */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) { return; }
  var origin = new URL(script.src).origin;
  var params = new URLSearchParams();
  var names = Object.keys(script.dataset).sort();
  names.forEach(function (name) {
    String(script.dataset[name]).split(",").forEach(function (value) {
      value = value.trim();
      if (value) { params.append(name, value); }
    });
  });
  var frame = document.createElement("iframe");
  var query = params.toString();
  frame.src = origin + "/embed" + (query ? "?" + query : "");
  frame.title = script.dataset.title || "Events calendar";
  frame.setAttribute("scrolling", "no");
  frame.style.width = "100%";
  frame.style.border = "0";
  frame.style.display = "block";
  frame.style.height = "480px";
  frame.loading = "lazy";
  script.parentNode.insertBefore(frame, script.nextSibling);
  window.addEventListener("message", function (event) {
    // Only our own frame may resize itself, and only with a number.
    if (event.origin !== origin || event.source !== frame.contentWindow) { return; }
    var data = event.data;
    if (data && data.type === "calendar-service:height" && typeof data.height === "number" &&
        isFinite(data.height) && data.height > 0) {
      frame.style.height = Math.min(Math.ceil(data.height), 20000) + "px";
    }
  });
}());

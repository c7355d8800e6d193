/* calendar-service embed loader: replaces its own <script> tag with a self-sizing iframe.
   Usage: <script src="https://HOST/embed.js" data-audience="schools" data-view="list" async></script> */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) { return; }
  var origin = new URL(script.src).origin;
  // The service's canonical order, so the frame loads without a redirect.
  var FILTERS = ["category", "audience", "theme", "tag", "q", "online", "status"];
  var OPTIONS = ["view", "limit", "title", "compact", "accent", "scheme", "month"];
  var DEFAULTS = { view: "list", limit: "10", compact: "false", scheme: "light" };
  var params = new URLSearchParams();
  // A title or search written over several lines of HTML: the service refuses line breaks
  // in parameters and folds runs of spaces, so send the words one space apart.
  function words(text) { return String(text).trim().split(/\s+/).join(" "); }
  FILTERS.forEach(function (name) {
    var raw = script.dataset[name];
    if (raw === undefined) { return; }
    var values = name === "q" ? [words(raw)] : String(raw).split(",").map(function (value) {
      return value.trim();
    });
    values.filter(function (value, index, all) {
      return value && all.indexOf(value) === index;
    }).sort().forEach(function (value) { params.append(name, value); });
  });
  OPTIONS.forEach(function (name) {
    var value = script.dataset[name];
    if (value !== undefined && words(value) && DEFAULTS[name] !== words(value)) {
      params.append(name, words(value));
    }
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

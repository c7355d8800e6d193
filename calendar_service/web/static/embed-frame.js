/* Inside the embed iframe: report the content height to the host page, and make the month
   grid keyboard-navigable (arrow keys, Home/End, PageUp/PageDown). Works without it too. */
(function () {
  "use strict";
  function reportHeight() {
    if (window.parent === window) { return; }
    var height = document.documentElement.getBoundingClientRect().height;
    window.parent.postMessage({ type: "calendar-service:height", height: height }, "*");
  }
  window.addEventListener("load", reportHeight);
  if (window.ResizeObserver) {
    new ResizeObserver(reportHeight).observe(document.documentElement);
  } else {
    window.addEventListener("resize", reportHeight);
  }

  var grid = document.querySelector(".month-grid");
  if (!grid) { return; }
  var cells = Array.prototype.slice.call(grid.querySelectorAll("td[data-date]"));
  if (!cells.length) { return; }
  var start = grid.querySelector("td.today:not(.other-month)") ||
      grid.querySelector("td:not(.other-month)") || cells[0];
  cells.forEach(function (cell) { cell.tabIndex = cell === start ? 0 : -1; });

  function move(from, to) {
    if (!to) { return; }
    from.tabIndex = -1;
    to.tabIndex = 0;
    to.focus();
  }
  grid.addEventListener("keydown", function (event) {
    var cell = event.target.closest("td[data-date]");
    if (!cell || event.target !== cell) { return; }
    var index = cells.indexOf(cell);
    var column = index % 7;
    var target = null;
    switch (event.key) {
      case "ArrowRight": target = cells[index + 1]; break;
      case "ArrowLeft": target = cells[index - 1]; break;
      case "ArrowDown": target = cells[index + 7]; break;
      case "ArrowUp": target = cells[index - 7]; break;
      case "Home": target = cells[index - column]; break;
      case "End": target = cells[index - column + 6]; break;
      case "PageUp":
      case "PageDown":
        var link = document.querySelector('a[data-key="' + event.key + '"]');
        if (link) { event.preventDefault(); window.location.href = link.href; }
        return;
      case "Enter":
        // The day's first bar: bars sit in the week's own rows below its days.
        var day = cell.dataset.date;
        var bars = cell.closest("tbody").querySelectorAll(".bar a");
        var first = Array.prototype.find.call(bars, function (bar) {
          return bar.dataset.first <= day && day <= bar.dataset.last;
        });
        if (first) { event.preventDefault(); first.focus(); }
        return;
      default: return;
    }
    event.preventDefault();
    move(cell, target);
  });
}());

// Sneakers shim: keeps countdowns ticking. No framework, no build step.
(function () {
  "use strict";

  function countdown(at, now) {
    var secs = Math.floor((at - now) / 1000);
    if (secs <= 0) return "any moment now";
    var d = Math.floor(secs / 86400), h = Math.floor(secs / 3600) % 24,
        m = Math.floor(secs / 60) % 60, s = secs % 60;
    if (d > 0) return "in " + d + "d " + h + "h";
    if (h > 0) return "in " + h + "h " + m + "m";
    if (m > 0) return "in " + m + "m " + s + "s";
    return "in " + s + "s";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.countdown__time[datetime]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(at)) el.textContent = countdown(at, now);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
  });
})();

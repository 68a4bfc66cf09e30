// Countdowns: any `<time data-countdown-to="<unix ms>">` counts down once a second, in words
// and in the visitor's local time; its server-rendered text (an absolute time in UTC) is what
// a page without JavaScript shows. At zero it shows `data-countdown-done` ("now" if none) and
// says `data-countdown-announce` once, if there is one (keyed by an enclosing
// `data-announce-key`, so the same news pushed by the server is not said twice).
import { announce } from "./dom.js";

var ticking = {};   // "<to>|<done>" of countdowns seen running: announced once at zero

export function remaining(ms) {
  var secs = Math.ceil(ms / 1000);
  var d = Math.floor(secs / 86400), h = Math.floor(secs / 3600) % 24,
      m = Math.floor(secs / 60) % 60, s = secs % 60;
  if (d > 0) return "in " + d + "d " + h + "h";
  if (h > 0) return "in " + h + "h " + m + "m";
  if (m > 0) return "in " + m + "m " + s + "s";
  return "in " + s + "s";
}

function localTime(at, ms) {
  var opts = { hour: "2-digit", minute: "2-digit" };
  if (ms >= 86400000) { opts.weekday = "short"; opts.day = "numeric"; opts.month = "short"; }
  try { return new Date(at).toLocaleString(undefined, opts); } catch (e) { return new Date(at).toString(); }
}

// A countdown inside `[data-announce-key]` says its words under that key: a drop's zero and
// its release push are one sentence (dom.js).
function announceKey(el) {
  var keyed = el.closest("[data-announce-key]");
  return keyed ? keyed.getAttribute("data-announce-key") : null;
}

// Queries the document every time, so countdowns that arrive in swapped fragments tick too.
export function tick() {
  var now = Date.now();
  document.querySelectorAll("[data-countdown-to]").forEach(function (el) {
    var at = parseInt(el.getAttribute("data-countdown-to"), 10);
    if (isNaN(at)) return;
    var done = el.getAttribute("data-countdown-done") || "now";
    var words = el.getAttribute("data-countdown-announce");
    var key = at + "|" + words, text;
    if (at - now > 0) {
      ticking[key] = true;
      text = remaining(at - now) + ", at " + localTime(at, at - now);
    } else {
      text = done;
      if (ticking[key]) { delete ticking[key]; if (words) announce(words, announceKey(el)); }
    }
    if (el.textContent !== text) el.textContent = text;
  });
}

export function startCountdowns() {
  tick();
  setInterval(tick, 1000);
}

// Forms: submits sent as channel events, the waiting state of anything sent, and forms that
// tell the server as the user types (re-rendered by it, replayed after a reconnect). The
// markup contract is at the top of app.js.
import { swapHtml, announce, showFlash, markEdited, forgetEdits } from "./dom.js";

var DEBOUNCE_MS = 300;
// The server words its own refusals (the reply's `message`); these are the shim's own.
var NO_REPLY_TEXT = {
  timeout: "The store is slow to answer. Please try again.",
  closed: "Connection lost. Please try again."
};
var FALLBACK_TEXT = "Something went wrong. Please try again.";

// channelFor(topic or null) -> a joined channel, or null; onReply(response) applies a
// command's reply (the cart's panel and cookie).
export function setupForms(channelFor, onReply) {
  var touched = {};   // form id -> changed by the user since the page showed it
  var seq = {};       // form id -> last change sent
  var timers = {};    // form id -> debounce timer

  function fields(form, submitter) {
    var out = {};
    function add(name, value) {
      if (!name || name === "_csrf_token") return;
      if (out.hasOwnProperty(name)) out[name] = [].concat(out[name], value);
      else out[name] = value;
    }
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled || el.hasAttribute("data-change-ignore")) return;
      var type = (el.type || "").toLowerCase();
      if (type === "file" || type === "password" || type === "submit" || type === "button" ||
          type === "reset" || type === "image") return;
      if ((type === "checkbox" || type === "radio") && !el.checked) return;
      if (el.tagName === "SELECT" && el.multiple) {
        Array.prototype.forEach.call(el.selectedOptions, function (o) { add(el.name, o.value); });
        return;
      }
      add(el.name, el.value);
    });
    if (submitter && submitter.name) add(submitter.name, submitter.value);
    return out;
  }

  // ---- Waiting state --------------------------------------------------------------------
  function setLoading(form, submitter, on) {
    form.classList.toggle("is-loading", on);
    if (on) form.setAttribute("aria-busy", "true"); else form.removeAttribute("aria-busy");
    var buttons = submitter ? [submitter] : Array.prototype.slice.call(form.querySelectorAll(".is-loading"));
    buttons.forEach(function (b) {
      if (b === form) return;
      b.classList.toggle("is-loading", on);
      if (on) b.setAttribute("aria-disabled", "true"); else b.removeAttribute("aria-disabled");
    });
  }

  function failed(reply) {
    var message = reply.response && reply.response.message;
    showFlash(typeof message === "string" ? message : NO_REPLY_TEXT[reply.status] || FALLBACK_TEXT);
  }

  // ---- Submits --------------------------------------------------------------------------
  function onSubmit(ev) {
    var form = ev.target;
    if (!(form instanceof HTMLFormElement) || ev.defaultPrevented) return;
    // Sent once: a second press while the first is on its way does nothing.
    if (form.classList.contains("is-loading")) { ev.preventDefault(); return; }
    var event = form.getAttribute("data-submit");
    var ch = event ? channelFor(form.getAttribute("data-submit-topic")) : null;
    var submitter = ev.submitter || null;
    if (!ch) {
      // The browser posts it (no JavaScript path, or no socket right now): wait for the page.
      if ((form.getAttribute("method") || "get").toLowerCase() === "post") setLoading(form, submitter, true);
      return;
    }
    ev.preventDefault();
    setLoading(form, submitter, true);
    ch.push(event, fields(form, submitter), function (reply) {
      // The form may have been replaced meanwhile: clear whichever is in the page now.
      setLoading((form.id && document.getElementById(form.id)) || form, null, false);
      if (reply.status === "ok") { forgetEdits(form); onReply(reply.response || {}, ch.topic); }
      else failed(reply);
    });
  }

  // ---- Changes --------------------------------------------------------------------------
  function changeForm(el) {
    var form = el && el.form;
    return form && form.id && form.hasAttribute("data-change") ? form : null;
  }

  function sendChange(form, target, recovered) {
    clearTimeout(timers[form.id]);
    delete timers[form.id];
    var ch = channelFor(form.getAttribute("data-change-topic"));
    if (!ch) return;
    var id = form.id, n = (seq[id] || 0) + 1;
    seq[id] = n;
    var payload = { form: id, target: target || null, fields: fields(form, null) };
    if (recovered) payload.recovered = true;
    ch.push(form.getAttribute("data-change"), payload, function (reply) {
      // A newer change is on its way: its answer will do.
      if (seq[id] !== n) return;
      if (reply.status !== "ok") return;
      var r = reply.response || {};
      // Typed since this was sent (another send is due): what the user has now wins.
      if (typeof r.html === "string") swapHtml(r.html, !timers[id]);
      if (typeof r.announce === "string") announce(r.announce);
    });
  }

  function onInput(ev) {
    markEdited(ev.target);
    var form = changeForm(ev.target);
    if (!form) return;
    touched[form.id] = true;
    var immediate = ev.type === "change" || ev.target.tagName === "SELECT" ||
      ev.target.type === "checkbox" || ev.target.type === "radio";
    var name = ev.target.name;
    clearTimeout(timers[form.id]);
    if (immediate) return sendChange(form, name, false);
    var ms = parseInt(form.getAttribute("data-change-debounce"), 10);
    timers[form.id] = setTimeout(function () { sendChange(form, name, false); }, isNaN(ms) ? DEBOUNCE_MS : ms);
  }

  // After a (re)join of `topic`: every form the user changed is sent again, so the server's
  // re-render (which the join may have reset) shows what the user has (form recovery).
  function recover(topic, pageTopic) {
    document.querySelectorAll("form[data-change][id]").forEach(function (form) {
      if (!touched[form.id]) return;
      if ((form.getAttribute("data-change-topic") || pageTopic) !== topic) return;
      sendChange(form, null, true);
    });
  }

  // Pushed HTML replaced parts of the page: forms the user changed inside them are sent again.
  function rerender(elements) {
    document.querySelectorAll("form[data-change][id]").forEach(function (form) {
      if (!touched[form.id]) return;
      if (elements.some(function (el) { return el.contains(form); })) sendChange(form, null, true);
    });
  }

  // A new page: forms it does not show are forgotten; clear waiting states a cached page kept.
  function reset() {
    Object.keys(touched).forEach(function (id) { if (!document.getElementById(id)) delete touched[id]; });
    document.querySelectorAll("form.is-loading").forEach(function (f) { setLoading(f, null, false); });
  }

  document.addEventListener("submit", onSubmit);
  document.addEventListener("input", onInput);
  document.addEventListener("change", onInput);
  return { recover: recover, rerender: rerender, reset: reset, fields: fields };
}

// Putting server-rendered HTML into the page: fragments by id (morphed in place, so focus,
// caret, selection and a chosen file survive), the polite announcer, the flash.
var UPDATED_MS = 1200, FLASH_MS = 4000, ANNOUNCED_KEEP = 3;

export function meta(name) {
  var el = document.querySelector('meta[name="' + name + '"]');
  return el ? el.getAttribute("content") : null;
}

// Pushed fragments are shared by every shopper, so their forms carry no CSRF token; give them
// this page's, first (as the server puts it), so they post without JavaScript's help too and
// compare equal to the page's own.
export function addCsrf(root) {
  var token = meta("csrf-token");
  if (!token) return;
  var forms = Array.prototype.slice.call(root.querySelectorAll("form"));
  if (root.tagName === "FORM") forms.unshift(root);
  forms.forEach(function (form) {
    if ((form.getAttribute("method") || "get").toLowerCase() !== "post") return;
    if (form.querySelector('input[name="_csrf_token"]')) return;
    var input = document.createElement("input");
    input.setAttribute("type", "hidden");
    input.setAttribute("name", "_csrf_token");
    input.setAttribute("value", token);
    form.insertBefore(input, form.firstChild);
  });
}

// ---- Morph ------------------------------------------------------------------------------
var edited = typeof WeakSet === "function" ? new WeakSet() : null;

// The user changed this control (a radio: its whole group, whose other buttons changed too).
export function markEdited(el) {
  if (!edited || !el || !isControl(el)) return;
  if (el.type === "radio" && el.form && el.name) {
    Array.prototype.forEach.call(el.form.elements, function (r) { if (r.name === el.name) edited.add(r); });
  } else {
    edited.add(el);
  }
}

// A form was sent: what it holds is the server's now.
export function forgetEdits(form) {
  if (edited) Array.prototype.forEach.call(form.elements, function (el) { edited.delete(el); });
}

// The user changed this control, or it differs from what the server last rendered.
export function isDirty(el) {
  if (edited && edited.has(el)) return true;
  var tag = el.tagName;
  if (tag === "INPUT" && (el.type === "checkbox" || el.type === "radio")) return el.checked !== el.defaultChecked;
  if (tag === "INPUT" && el.type === "file") return el.files && el.files.length > 0;
  if (tag === "INPUT" || tag === "TEXTAREA") return el.value !== el.defaultValue;
  if (tag === "SELECT") {
    return Array.prototype.some.call(el.options, function (o) { return o.selected !== o.defaultSelected; });
  }
  return false;
}

function sameKind(a, b) {
  if (a.nodeType !== b.nodeType) return false;
  if (a.nodeType !== 1) return true;
  return a.tagName === b.tagName && a.id === b.id &&
    (a.tagName !== "INPUT" || a.type === b.type) && a.getAttribute("name") === b.getAttribute("name");
}

function syncAttributes(el, fresh) {
  Array.prototype.slice.call(el.attributes).forEach(function (a) {
    // Focus put here by keepFocus stays: without its tabindex the browser would drop it.
    if (a.name === "tabindex" && el === document.activeElement) return;
    if (!fresh.hasAttribute(a.name)) el.removeAttribute(a.name);
  });
  Array.prototype.forEach.call(fresh.attributes, function (a) {
    if (el.getAttribute(a.name) !== a.value) el.setAttribute(a.name, a.value);
  });
}

// A control keeps what the user has in it when it has focus (typing goes on), and, when
// `keepUser`, whenever the user changed it: a push shared by every page never carries their
// input. Otherwise it shows the server's value (a re-render made from what the user sent).
function syncControl(el, keep) {
  var tag = el.tagName;
  if (tag === "INPUT" && el.type === "file") return;
  if (keep) return;
  if (tag === "INPUT" && (el.type === "checkbox" || el.type === "radio")) el.checked = el.defaultChecked;
  else if (tag === "INPUT" || tag === "TEXTAREA") { if (el.value !== el.defaultValue) el.value = el.defaultValue; }
  else if (tag === "SELECT") Array.prototype.forEach.call(el.options, function (o) { o.selected = o.defaultSelected; });
}

function isControl(el) {
  return el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT";
}

function morphElement(el, fresh, keepUser) {
  var keep = false;
  if (isControl(el)) keep = el === document.activeElement || (keepUser && isDirty(el));
  // A file input is never rebuilt: its chosen file cannot be put back.
  if (el.tagName === "INPUT" && el.type === "file") {
    Array.prototype.forEach.call(fresh.attributes, function (a) {
      if (a.name !== "value" && el.getAttribute(a.name) !== a.value) el.setAttribute(a.name, a.value);
    });
    return;
  }
  var saved = keep ? saveControl(el) : null;
  syncAttributes(el, fresh);
  if (el.tagName === "TEXTAREA") {
    if (el.defaultValue !== fresh.defaultValue) el.defaultValue = fresh.defaultValue;
  } else {
    morphChildren(el, fresh, keepUser);
  }
  if (saved) restoreControl(el, saved);
  else if (isControl(el)) syncControl(el, false);
}

function saveControl(el) {
  if (el.tagName === "SELECT") return { options: Array.prototype.map.call(el.options, function (o) { return o.selected; }) };
  var s = { value: el.value, checked: el.checked };
  try { s.start = el.selectionStart; s.end = el.selectionEnd; s.dir = el.selectionDirection; } catch (e) { /* no selection on this type */ }
  return s;
}

function restoreControl(el, s) {
  if (s.options) {
    Array.prototype.forEach.call(el.options, function (o, i) { if (i < s.options.length) o.selected = s.options[i]; });
    return;
  }
  if (el.value !== s.value) el.value = s.value;
  el.checked = s.checked;
  if (typeof s.start === "number" && el === document.activeElement) {
    try { el.setSelectionRange(s.start, s.end, s.dir); } catch (e) { /* no selection on this type */ }
  }
}

function morphChildren(parent, freshParent, keepUser) {
  var old = parent.firstChild, fresh = freshParent.firstChild;
  while (fresh) {
    var nextFresh = fresh.nextSibling;
    if (old && sameKind(old, fresh)) {
      if (old.nodeType === 1) morphElement(old, fresh, keepUser);
      else if (old.nodeValue !== fresh.nodeValue) old.nodeValue = fresh.nodeValue;
      old = old.nextSibling;
    } else {
      // A keyed element further on (same id) moves up rather than being rebuilt.
      var match = fresh.nodeType === 1 && fresh.id ? findChild(parent, old, fresh) : null;
      if (match) {
        parent.insertBefore(match, old);
        morphElement(match, fresh, keepUser);
      } else {
        parent.insertBefore(fresh, old);
      }
    }
    fresh = nextFresh;
  }
  while (old) {
    var next = old.nextSibling;
    parent.removeChild(old);
    old = next;
  }
}

function findChild(parent, from, fresh) {
  for (var n = from; n; n = n.nextSibling) if (n.nodeType === 1 && sameKind(n, fresh)) return n;
  return null;
}

// Makes `el` look like `fresh` by changing only what differs.
export function morph(el, fresh, keepUser) { morphElement(el, fresh, keepUser); }

// ---- Fragments --------------------------------------------------------------------------
function flagUpdated(el) {
  el.classList.add("is-updated");
  setTimeout(function () { el.classList.remove("is-updated"); }, UPDATED_MS);
}

var FOCUSABLE = "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), " +
  "select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

// The focused element went with the swap (the cart line whose remove button was pressed):
// focus stays in the swapped element, on its first control, or on the element itself, so a
// keyboard user goes on from where they were instead of from the top of the page.
function keepFocus(root) {
  var next = root.querySelector(FOCUSABLE);
  if (!next) {
    if (!root.hasAttribute("tabindex")) root.setAttribute("tabindex", "-1");
    next = root;
  }
  next.focus({ preventScroll: true });
}

// Fragments hold whole elements whose ids already exist in the page; anything else in them
// (text, id-less or unknown elements) is not ours to place. `reply`: the HTML answers this
// page's own request (what the user sent is in it); otherwise it is a push, the same for
// every page, and the user's unsent input wins. Returns the elements that changed.
export function swapHtml(html, reply) {
  var tpl = document.createElement("template");
  tpl.innerHTML = html;
  var changed = [];
  Array.prototype.slice.call(tpl.content.children).forEach(function (fresh) {
    var old = fresh.id ? document.getElementById(fresh.id) : null;
    if (!old || old.tagName !== fresh.tagName) return;
    addCsrf(fresh);
    // A push that changes nothing (the state a join re-sends) must not flash.
    var flashing = old.classList.contains("is-updated");
    if (flashing) old.classList.remove("is-updated");
    if (old.isEqualNode(fresh)) { if (flashing) old.classList.add("is-updated"); return; }
    changed.push(old);
    var focused = document.activeElement;
    var hadFocus = focused && focused !== old && old.contains(focused);
    morph(old, fresh, !reply);
    if (hadFocus && !focused.isConnected) keepFocus(old);
    // Panels redrawn every second during a drop (the sales chart) would flash for good.
    if (!old.hasAttribute("data-no-flash")) flagUpdated(old);
  });
  return changed;
}

// ---- Announcements ----------------------------------------------------------------------
// Words for screen readers, through the page's polite live region (`#announcer`). Each is a
// new paragraph, so the same words twice are read twice; old ones are dropped.
//
// One change can reach a page by two topics (a size selling out on the product's topic, and
// the same pair in the cart on the cart's), each with its sentence: the server gives both the
// same `key`, and the page says one. A keyed sentence waits a moment for another with its key,
// which takes its place (the more specific is sent last); once said, its key stays quiet a
// while, so a late twin is not read again.
var KEYED_WAIT_MS = 300, KEY_QUIET_MS = 3000;
var waiting = {};   // key -> sentence not yet said
var saidAt = {};    // key -> when its sentence was said

function say(text) {
  var region = document.getElementById("announcer");
  if (!region) return;
  var p = document.createElement("p");
  p.textContent = text;
  region.appendChild(p);
  while (region.children.length > ANNOUNCED_KEEP) region.removeChild(region.firstElementChild);
}

export function announce(text, key) {
  if (typeof text !== "string" || text === "") return;
  if (typeof key !== "string" || key === "") return say(text);
  var now = Date.now();
  Object.keys(saidAt).forEach(function (k) { if (now - saidAt[k] >= KEY_QUIET_MS) delete saidAt[k]; });
  if (saidAt[key]) return;
  if (waiting.hasOwnProperty(key)) { waiting[key] = text; return; }
  waiting[key] = text;
  setTimeout(function () {
    var words = waiting[key];
    delete waiting[key];
    saidAt[key] = Date.now();
    say(words);
  }, KEYED_WAIT_MS);
}

var flashTimer = null;
export function showFlash(text) {
  var main = document.getElementById("main");
  if (!main) return;
  var el = document.getElementById("flash");
  if (!el) (el = document.createElement("div")).id = "flash";
  el.setAttribute("role", "alert");
  el.className = "notice notice--error";
  el.textContent = text;
  main.insertBefore(el, main.firstChild);
  clearTimeout(flashTimer);
  flashTimer = setTimeout(function () { el.remove(); }, FLASH_MS);
}

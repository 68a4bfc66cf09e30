// Sneakers shim: makes the server-rendered pages live over one Phoenix Channels V2 socket.
// ES modules, no build step, no framework, no business rules: it connects, heartbeats,
// reconnects with jittered back-off, joins the topics the page shows, sends forms marked for a
// channel event, swaps the HTML the server pushes, and says aloud what the server words.
// Every page works without it (plain links and forms).
//
// Markup contract (what a page or fragment writes to use each mechanism):
//
// - Live region: `<main id="main">` is what live navigation swaps; a link (or anything inside
//   an element) with `data-full-reload` is left to the browser, as are downloads, other
//   targets, modified clicks and other sites. A fetched page that is not HTML, has no main
//   region, or belongs to another visitor (cart id) or socket (admin) is loaded in full.
// - Topics: every `[data-product-id]` joins `product:<id>`; shopper pages (meta `cart-id`)
//   join `cart:<cart_id>`, `/admin` (meta `admin-token`) joins `admin:cart_tracker`; any
//   `[data-topic="<topic>"]` joins that topic too. After navigation the socket leaves what the
//   new page does not show and joins (or rejoins, for fresh state) what it does.
// - Pushes: a payload's `html` holds whole elements whose ids exist in the page; each is
//   morphed in place (focus, caret, selection and chosen files survive; focus on an element
//   the swap removed moves to the swapped element's first control, or to the element
//   itself; a control the user changed keeps the user's value, since a push is the same
//   for every page). `announce`
//   (words) is read once through the polite `#announcer` region when the push changed the
//   page (or carries no html); pushes of one change on two topics carry the same
//   `announce_key`, and only one of their sentences is read. `new_token` `{token}` renews
//   the socket token.
// - Commands: `<form data-submit="<event>" [data-submit-topic="<topic>"]>` is sent as that
//   event with its fields (`{name: value}`, the pressed button's too; `_csrf_token`, files
//   and passwords left out) on the page's own topic (the cart on shopper pages, the admin
//   topic on /admin) unless named; the reply's `html` is swapped, an error's `message` shown.
//   Without a joined channel the browser posts it.
// - Waiting (once only): a form being sent (over the socket, or posted by the browser) has
//   class `is-loading` and `aria-busy="true"`, its pressed button `is-loading` and
//   `aria-disabled="true"`; another submit of it meanwhile is ignored.
// - Live forms: `<form id="<id>" data-change="<event>" [data-change-topic="<topic>"]
//   [data-change-debounce="<ms>"]>` sends `{form, target, fields}` as that event on every
//   change (at once) and input (after 300 ms of quiet); a field with `data-change-ignore` is
//   not sent. The reply `{html, announce}` re-renders the form by id, morphed: the field being
//   typed in keeps its value and caret. After every (re)join of the topic, each form the user
//   changed is sent again with `recovered: true`, so a restarted node re-renders it as it was.
// - Countdowns: `<time data-countdown-to="<unix ms>" [data-countdown-done="<words>"]>` shows
//   the time left in words and the local time, each second; its own text (an absolute UTC
//   time) is the page without JavaScript. At zero it shows and announces the done words
//   (`data-countdown-announce`), keyed by an enclosing `[data-announce-key]` when the server
//   pushes the same news (a drop's release) under that key.
// - Reordering: `<ol data-reorder="<url>">` of `<li draggable="true" data-image-id>` is
//   reordered by dragging; the new order is posted (`order=<id>,…`) and the list's section
//   re-read from the page (`js/reorder.js`).
// - Time zones: `<select data-local-offset data-local-offset-for="<input name>">` of UTC
//   offsets is set to the browser's offset when the page loads, the `datetime-local` input's
//   time rewritten to the same instant (`js/timezone.js`).
// - Connection: `#connection-status` (role=status, hidden) is shown once the socket has been
//   down a second and hidden when every topic of the page is joined again.
import { createSocket } from "./js/socket.js";
import { meta, swapHtml, announce } from "./js/dom.js";
import { startCountdowns, tick } from "./js/countdown.js";
import { setupForms } from "./js/forms.js";
import { setupNavigation } from "./js/navigate.js";
import { setupReorder } from "./js/reorder.js";
import { presetOffsets } from "./js/timezone.js";

var STATUS_DELAY_MS = 1000, CART_COOKIE = "sneakers_cart", ADMIN_TOPIC = "admin:cart_tracker";

var socket = null, token = null, isAdmin = false, cartId = null, statusTimer = null, forms = null;

// ---- Cart cookie --------------------------------------------------------------------------
function readCartCookie() {
  var m = new RegExp("(?:^|;\\s*)" + CART_COOKIE + "=([^;]*)").exec(document.cookie);
  return m ? m[1] : null;
}

// The server reads the cookie raw (no percent-decoding): refuse a value a cookie cannot hold
// rather than store a corrupted cart.
function writeCartCookie(value) {
  if (typeof value !== "string" || /[\s;,"\\]/.test(value)) return;
  document.cookie = CART_COOKIE + "=" + value + "; path=/; max-age=604800; samesite=lax" +
    (location.protocol === "https:" ? "; secure" : "");
}

// ---- Pushes -------------------------------------------------------------------------------
function applyHtml(payload, reply) {
  var changed = typeof payload.html === "string" ? swapHtml(payload.html, reply) : null;
  if ((!changed || changed.length > 0) && typeof payload.announce === "string") {
    announce(payload.announce, payload.announce_key);
  }
  // A push re-rendered a form the user is filling in from what everyone sees: ask the server
  // for this user's render of it again (its errors, what follows from the values).
  if (changed && !reply) forms.rerender(changed);
  tick();
}

// A cart push or a command's reply: the panel, the cookie the plain forms read, the count.
function applyCart(payload, reply) {
  applyHtml(payload, reply);
  if (typeof payload.serialized === "string") writeCartCookie(payload.serialized);
  if (typeof payload.count !== "number") return;
  document.querySelectorAll(".cart-link__count").forEach(function (el) {
    el.textContent = String(payload.count);
  });
}

function onPush(event, payload) {
  if (event === "new_token") { if (typeof payload.token === "string") token = payload.token; }
  else if (event === "cart") applyCart(payload, false);
  else applyHtml(payload, false);
}

// ---- Topics -------------------------------------------------------------------------------
function pageTopic() { return isAdmin ? ADMIN_TOPIC : cartId ? "cart:" + cartId : null; }

// Read at every join, so a rejoin carries the cart as it is now and the page it is on.
function cartParams() { return { serialized: readCartCookie(), page: location.pathname }; }

// A page that already shows the size buttons is sent each size's state (small frames)
// instead of the whole selector. The channel's first join follows the page's own render: it
// names the levels shown, and only sizes that differ come back. Later joins (a reconnect,
// a timeout) take every size again, since anything may have been missed meanwhile.
function productParams(id) {
  var joins = 0;
  return function () {
    var area = document.getElementById("product-" + id + "-sizes");
    var params = { sizes_shown: !!(area && area.querySelector("[data-level]")) };
    if (params.sizes_shown && joins === 0) {
      params.levels = {};
      area.querySelectorAll('[id^="item-"][data-level]').forEach(function (el) {
        params.levels[el.id.slice(5)] = el.getAttribute("data-level");
      });
    }
    joins += 1;
    return params;
  };
}

function emptyParams() { return {}; }

// topic -> params of every topic the page shows now.
function wantedTopics() {
  var wanted = {};
  var own = pageTopic();
  if (own) wanted[own] = own === ADMIN_TOPIC ? emptyParams : cartParams;
  if (!isAdmin) {
    document.querySelectorAll("[data-product-id]").forEach(function (el) {
      var id = el.getAttribute("data-product-id");
      if (id) wanted["product:" + id] = productParams(id);
    });
  }
  document.querySelectorAll("[data-topic]").forEach(function (el) {
    var topic = el.getAttribute("data-topic");
    if (topic && !wanted[topic]) wanted[topic] = emptyParams;
  });
  return wanted;
}

function handlers(topic) {
  return {
    onPush: onPush,
    onJoin: function () { forms.recover(topic, pageTopic()); },
    // The cookie holds another session's cart (left from an older session): it is no cart
    // here, so drop it and join with none.
    onRefused: function (response) {
      if (response.reason !== "foreign_cart" || !readCartCookie()) return;
      document.cookie = CART_COOKIE + "=; path=/; max-age=0; samesite=lax";
      var ch = socket.get(topic);
      if (ch) ch.rejoin();
    }
  };
}

// Leaves what the page no longer shows, joins what it does; `rejoin`: topics kept are joined
// again, so what the fetched page showed is brought up to date (and the cart's page moves).
function syncChannels(rejoin) {
  var wanted = wantedTopics();
  socket.topics().forEach(function (topic) {
    if (!wanted[topic]) socket.get(topic).leave();
  });
  Object.keys(wanted).forEach(function (topic) {
    var ch = socket.get(topic);
    if (!ch) socket.channel(topic, wanted[topic], handlers(topic));
    else if (rejoin) ch.rejoin();
  });
}

function channelFor(topic) {
  var ch = socket && socket.get(topic || pageTopic());
  return ch && ch.joined && socket.state() === "open" ? ch : null;
}

// ---- Connection state ---------------------------------------------------------------------
function setStatusVisible(visible) {
  var el = document.getElementById("connection-status");
  if (el) el.hidden = !visible;
}

function onDown() {
  if (statusTimer) return;
  statusTimer = setTimeout(function () { setStatusVisible(true); }, STATUS_DELAY_MS);
}

function onCaughtUp() {
  clearTimeout(statusTimer);
  statusTimer = null;
  setStatusVisible(false);
}

function refreshToken() {
  var opts = { credentials: "same-origin", cache: "no-store", headers: { accept: "application/json" } };
  return fetch("/session/token", opts).then(function (res) {
    if (!res.ok) throw new Error("session token: HTTP " + res.status);
    return res.json();
  }).then(function (body) {
    if (!body || typeof body.token !== "string") throw new Error("session token: no token");
    token = body.token;
    // A new session means a new cart id, and the fresh token only opens that cart's topic.
    if (typeof body.cart_id === "string" && cartId && body.cart_id !== cartId) {
      var old = socket.get("cart:" + cartId);
      if (old) old.leave();
      cartId = body.cart_id;
      syncChannels(false);
    }
  });
}

function socketUrl(transport) {
  var path = (isAdmin ? "/admin_socket/" : "/socket/") + transport;
  var scheme = transport === "websocket" ? (location.protocol === "https:" ? "wss://" : "ws://") : location.protocol + "//";
  return scheme + location.host + path + "?vsn=2.0.0&token=" + encodeURIComponent(token);
}

// A fetched page may replace this one when it is the same visitor on the same socket.
function sameKind(doc) {
  function m(name) {
    var el = doc.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") : null;
  }
  if (isAdmin) return !!m("admin-token");
  return !!cartId && m("cart-id") === cartId && !m("admin-token");
}

// ---- Start --------------------------------------------------------------------------------
function init() {
  startCountdowns();
  setupReorder();
  forms = setupForms(channelFor, function (response) { applyCart(response, true); });
  presetOffsets();
  var adminToken = meta("admin-token");
  token = adminToken || meta("socket-token");
  if (!token) return;
  isAdmin = !!adminToken;
  cartId = isAdmin ? null : meta("cart-id");
  var storage = null;
  try { storage = window.sessionStorage; } catch (e) { /* private mode */ }
  socket = createSocket({
    url: socketUrl,
    storage: storage,
    refreshToken: isAdmin ? null : refreshToken,
    onDown: onDown,
    onCaughtUp: onCaughtUp
  });
  syncChannels(false);
  if (socket.topics().length === 0) return;
  setupNavigation(sameKind, function () {
    presetOffsets();
    forms.reset();
    syncChannels(true);
    tick();
  });
  window.addEventListener("pagehide", function () { socket.suspend(); });
  window.addEventListener("pageshow", function (ev) {
    if (!ev.persisted) return;
    forms.reset();
    socket.resume();
  });
  onDown();
  socket.connect();
}

window.Sneakers = {
  socketState: function () { return socket ? socket.state() : "closed"; },
  transport: function () { return socket ? socket.transport() : "websocket"; }
};

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();

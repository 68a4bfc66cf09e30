// Sneakers shim: keeps countdowns ticking and makes server-rendered pages live over a Phoenix
// Channels V2 socket. No framework, no build step. It knows no business rules: it connects,
// heartbeats, reconnects with jitter, rejoins, sends cart forms as channel events and swaps the
// HTML fragments the server pushes. Every page still works without it (plain forms).
(function () {
  "use strict";

  var HEARTBEAT_MS = 30000, MAX_BACKOFF_MS = 30000, RESTART_WINDOW_MS = 5000;
  var STATUS_DELAY_MS = 1000, REPLY_TIMEOUT_MS = 10000, UPDATED_MS = 1200, FLASH_MS = 4000;
  var CART_COOKIE = "sneakers_cart";
  // WebSocket upgrades failing this long (none ever opened) -> Phoenix's LongPoll, as
  // phoenix.js's `longPollFallbackMs`; once it works, the tab keeps it (sessionStorage).
  var LONGPOLL_FALLBACK_MS = 2500, TRANSPORT_KEY = "sneakers:transport";
  // The server words its own refusals (the reply's `message`); these are the shim's own: no
  // answer, or no socket.
  var NO_REPLY_TEXT = {
    timeout: "The store is slow to answer. Please try again.",
    closed: "Connection lost. Please try again."
  };
  var FALLBACK_TEXT = "Something went wrong. Please try again.";

  // ---- Countdown --------------------------------------------------------------------------
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

  // Queries the document every time, so countdowns that arrive in swapped fragments tick too.
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.countdown__time[datetime]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(at)) el.textContent = countdown(at, now);
    });
  }

  // ---- Page helpers -----------------------------------------------------------------------
  function meta(name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") : null;
  }

  function readCartCookie() {
    var m = new RegExp("(?:^|;\\s*)" + CART_COOKIE + "=([^;]*)").exec(document.cookie);
    return m ? m[1] : null;
  }

  // The server reads the cookie raw (no percent-decoding): refuse a value a cookie cannot
  // hold rather than store a corrupted cart.
  function writeCartCookie(value) {
    if (typeof value !== "string" || /[\s;,"\\]/.test(value)) return;
    document.cookie = CART_COOKIE + "=" + value + "; path=/; max-age=604800; samesite=lax" +
      (location.protocol === "https:" ? "; secure" : "");
  }

  function flagUpdated(el) {
    el.classList.add("is-updated");
    setTimeout(function () { el.classList.remove("is-updated"); }, UPDATED_MS);
  }

  // Fragments hold whole elements whose ids already exist in the page; anything else in them
  // (text, id-less or unknown elements) is not ours to place.
  // Pushed fragments are shared by every shopper, so their forms carry no CSRF token; give
  // them this page's, as the server-rendered forms have it (first, like the server puts it),
  // so they still post without JavaScript's help and compare equal to the page's own.
  function addCsrf(root) {
    var token = meta("csrf-token");
    if (!token) return;
    var forms = Array.prototype.slice.call(root.querySelectorAll("form"));
    if (root.tagName === "FORM") forms.unshift(root);
    forms.forEach(function (form) {
      if (form.querySelector('input[name="_csrf_token"]')) return;
      var input = document.createElement("input");
      input.setAttribute("type", "hidden");
      input.setAttribute("name", "_csrf_token");
      input.setAttribute("value", token);
      form.insertBefore(input, form.firstChild);
    });
  }

  function swapHtml(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    Array.prototype.slice.call(tpl.content.children).forEach(function (fresh) {
      var old = fresh.id ? document.getElementById(fresh.id) : null;
      if (!old) return;
      addCsrf(fresh);
      // A push that changes nothing (the state a join re-sends) must not flash.
      if (old.isEqualNode(fresh)) return;
      old.replaceWith(fresh);
      // Panels redrawn every second during a drop (the sales chart) would flash for good.
      if (!fresh.hasAttribute("data-no-flash")) flagUpdated(fresh);
    });
    tick();
  }

  function applyCart(payload) {
    if (!payload) return;
    if (typeof payload.html === "string") swapHtml(payload.html);
    if (typeof payload.serialized === "string") writeCartCookie(payload.serialized);
    if (typeof payload.count !== "number") return;
    document.querySelectorAll(".cart-link__count").forEach(function (el) {
      el.textContent = String(payload.count);
    });
  }

  var flashTimer = null;
  function showFlash(text) {
    var main = document.querySelector("main.page");
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

  function setStatusVisible(visible) {
    var el = document.getElementById("connection-status");
    if (el) el.hidden = !visible;
  }

  // ---- Socket state -----------------------------------------------------------------------
  var token = null, isAdmin = false, socketPath = "/socket/websocket", cartId = null;
  var ws = null, state = "closed", lastRef = 0;
  var channels = {};       // topic -> {topic, params, joinRef, joined, rejoinTimer}
  var pending = {};        // ref -> {callback, timer}
  var attempt = 0;         // reconnect attempts since the last successful join
  var refusals = 0;        // consecutive sockets that closed before they ever opened
  var reconnectTimer = null, heartbeatTimer = null, statusTimer = null;
  var suspended = false;   // the page is hidden in the back/forward cache
  var longPoll = remembered() === "longpoll" || typeof WebSocket === "undefined";
  var wsOpened = false, wsFailingSince = null;

  function remembered() {
    try { return sessionStorage.getItem(TRANSPORT_KEY); } catch (e) { return null; }
  }

  function nextRef() { lastRef += 1; return String(lastRef); }

  function socketUrl() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + location.host + socketPath + "?vsn=2.0.0&token=" + encodeURIComponent(token);
  }

  // Phoenix's LongPoll behind a WebSocket's face (onopen, onmessage, onclose, send, close):
  // GET polls (410 opens the session, 200 brings frames, 204 an empty window), POST sends
  // frames as ndjson, one request at a time so they keep their order.
  function LongPollSocket(url) {
    var self = this, lpToken = null, done = false, posting = false, queue = [];
    var abort = typeof AbortController === "function" ? new AbortController() : null;
    function request(method, body) {
      var headers = { accept: "application/json" };
      if (lpToken) headers["x-phoenix-longpoll-token"] = lpToken;
      if (body !== undefined) headers["content-type"] = "application/x-ndjson";
      return fetch(url, { method: method, headers: headers, body: body, cache: "no-store",
        credentials: "same-origin", signal: abort && abort.signal }).then(function (res) { return res.json(); });
    }
    function finish(code) {
      if (done) return;
      done = true;
      if (abort) abort.abort();
      self.onclose({ code: code });
    }
    function poll() {
      if (done) return;
      request("GET").then(function (resp) {
        var status = resp && resp.status;
        if (done) return;
        if (status === 410 && lpToken) return finish(3410);   // the session is gone: rejoin
        if (status === 410 && resp.token) { lpToken = resp.token; self.onopen(); }
        else if (status === 200) resp.messages.forEach(function (m) { self.onmessage({ data: m }); });
        else if (status !== 204) return finish(status === 403 ? 1008 : 1011);
        poll();
      }, function () { finish(1006); });
    }
    function flush() {
      if (posting || done || queue.length === 0) return;
      posting = true;
      request("POST", queue.splice(0, 100).join("\n")).then(function (resp) {
        posting = false;
        if (!resp || resp.status !== 200) return finish(1011);
        flush();
      }, function () { finish(1006); });
    }
    self.send = function (data) { queue.push(data); setTimeout(flush, 0); };
    self.close = function () { finish(1000); };
    setTimeout(poll, 0);
  }

  function openSocket() {
    if (!longPoll) return new WebSocket(socketUrl());
    var path = socketPath.replace(/\/websocket$/, "/longpoll");
    return new LongPollSocket(location.origin + path + "?vsn=2.0.0&token=" + encodeURIComponent(token));
  }

  // A WebSocket that never opened on this page, failing for a few seconds: switch.
  function noteClosed(opened) {
    if (longPoll || wsOpened) return;
    if (opened) { wsOpened = true; return; }
    if (wsFailingSince === null) wsFailingSince = Date.now();
    else if (Date.now() - wsFailingSince >= LONGPOLL_FALLBACK_MS) { longPoll = true; attempt = 0; }
  }

  function send(joinRef, ref, topic, event, payload) {
    if (ws && state === "open") ws.send(JSON.stringify([joinRef, ref, topic, event, payload]));
  }

  // Every request gets exactly one answer: the reply, "timeout", or "closed" when the socket
  // goes away first.
  function expectReply(ref, timeoutMs, callback) {
    var timer = setTimeout(function () { settle(ref, { status: "timeout" }); }, timeoutMs);
    pending[ref] = { callback: callback, timer: timer };
  }

  function settle(ref, reply) {
    var entry = pending[ref];
    if (!entry) return;
    delete pending[ref];
    clearTimeout(entry.timer);
    entry.callback(reply || {});
  }

  function failPending() {
    Object.keys(pending).forEach(function (ref) { settle(ref, { status: "closed" }); });
  }

  // ---- Connection lifecycle ---------------------------------------------------------------
  function connect() {
    if (ws) return;
    state = "connecting";
    var sock, opened = false;
    try { sock = openSocket(); } catch (e) { return handleClosed(0, false); }
    ws = sock;
    sock.onopen = function () { if (sock === ws) { opened = true; handleOpen(); } };
    sock.onmessage = function (ev) { if (sock === ws) handleFrame(ev.data); };
    // An error before open is followed by a close that counts the refusal; after open, a
    // broken socket is dropped at once rather than waiting for a close handshake.
    sock.onerror = function () { if (sock === ws && opened) abandonSocket(); };
    sock.onclose = function (ev) { if (sock === ws) handleClosed(ev.code, opened); };
  }

  function handleOpen() {
    state = "open";
    refusals = 0;
    if (longPoll) { try { sessionStorage.setItem(TRANSPORT_KEY, "longpoll"); } catch (e) { /* private mode */ } }
    else wsOpened = true;
    forEachChannel(join);
    scheduleHeartbeat();
  }

  // Used when the socket is known dead (missed heartbeat, error): stop listening to it and
  // reconnect now; its own close event may take a long time to arrive.
  function abandonSocket() {
    var sock = ws;
    if (!sock) return;
    ws = null;
    try { sock.close(1000); } catch (e) { /* already closing */ }
    handleClosed(1006, true);
  }

  function handleClosed(code, opened) {
    ws = null;
    state = "closed";
    if (suspended) return;
    clearTimeout(heartbeatTimer);
    failPending();
    forEachChannel(function (ch) {
      ch.joined = false;
      clearTimeout(ch.rejoinTimer);
      ch.rejoinTimer = null;
    });
    refusals = opened ? 0 : refusals + 1;
    noteClosed(opened);
    startStatusTimer();
    scheduleReconnect(code === 1012);
  }

  // Full jitter: a deploy closes thousands of sockets together (1012), and they must not come
  // back together; the window never shrinks below a few seconds for a restart.
  function scheduleReconnect(restart) {
    if (reconnectTimer) return;
    var windowMs = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, attempt));
    if (restart) windowMs = Math.max(windowMs, RESTART_WINDOW_MS);
    attempt = Math.min(attempt + 1, 16);
    reconnectTimer = setTimeout(reconnect, Math.random() * windowMs);
  }

  // The browser hides the 403 behind a bare close, so two refusals in a row are taken as an
  // expired token. If the fetch fails we still try the socket: the refusal may have been the
  // network, and the backoff keeps this from becoming a tight loop.
  function reconnect() {
    reconnectTimer = null;
    state = "connecting";
    if (!isAdmin && refusals >= 2) refreshToken().then(connect, connect);
    else connect();
  }

  function refreshToken() {
    var opts = { credentials: "same-origin", cache: "no-store", headers: { accept: "application/json" } };
    return fetch("/session/token", opts).then(function (res) {
      if (!res.ok) throw new Error("session token: HTTP " + res.status);
      return res.json();
    }).then(function (body) {
      if (!body || typeof body.token !== "string") throw new Error("session token: no token");
      token = body.token;
      if (typeof body.cart_id === "string" && cartId && body.cart_id !== cartId) moveCart(body.cart_id);
    });
  }

  // A new session means a new cart id, and the fresh token only opens that cart's topic.
  // Only called while disconnected, so there is nothing to leave.
  function moveCart(newId) {
    delete channels["cart:" + cartId];
    cartId = newId;
    addChannel("cart:" + cartId, cartParams);
  }

  function startStatusTimer() {
    if (statusTimer) return;
    statusTimer = setTimeout(function () { setStatusVisible(true); }, STATUS_DELAY_MS);
  }

  function markLive() {
    clearTimeout(statusTimer);
    statusTimer = null;
    setStatusVisible(false);
  }

  // Timers in background tabs are throttled: pacing each heartbeat from the previous reply
  // avoids a burst of queued heartbeats when the tab wakes up.
  function scheduleHeartbeat() {
    clearTimeout(heartbeatTimer);
    heartbeatTimer = setTimeout(sendHeartbeat, HEARTBEAT_MS);
  }

  function sendHeartbeat() {
    heartbeatTimer = null;
    var ref = nextRef();
    expectReply(ref, HEARTBEAT_MS, function (reply) {
      // Any answer, even an error, proves the socket alive.
      if (reply.status === "timeout") abandonSocket();
      else if (reply.status !== "closed") scheduleHeartbeat();
    });
    send(null, ref, "phoenix", "heartbeat", {});
  }

  // ---- Channels ---------------------------------------------------------------------------
  function emptyParams() { return {}; }

  // Read at every join, so a rejoin carries the cart as it is now, not as it was at load.
  function cartParams() {
    return { serialized: readCartCookie(), page: location.pathname };
  }

  // Read at every join: a page that already shows the size buttons is sent each size's state
  // (small frames) instead of the whole selector.
  function productParams(id) {
    return function () {
      var area = document.getElementById("product-" + id + "-sizes");
      return { sizes_shown: !!(area && area.querySelector("[data-level]")) };
    };
  }

  function addChannel(topic, params) {
    channels[topic] = { topic: topic, params: params, joinRef: null, joined: false, rejoinTimer: null };
  }

  function forEachChannel(fn) {
    Object.keys(channels).forEach(function (topic) { fn(channels[topic]); });
  }

  function join(ch) {
    clearTimeout(ch.rejoinTimer);
    ch.rejoinTimer = null;
    if (state !== "open") return;
    var ref = nextRef();
    ch.joinRef = ref;
    ch.joined = false;
    expectReply(ref, REPLY_TIMEOUT_MS, function (reply) {
      if (channels[ch.topic] !== ch || ch.joinRef !== ref) return;
      if (reply.status === "ok") {
        ch.joined = true;
        attempt = 0;
        markLive();
      } else if (reply.status === "timeout") {
        scheduleRejoin(ch);
      }
      // An error reply ("unmatched topic", "unauthorized") would only repeat now; the next
      // reconnect tries again.
    });
    send(ref, ref, ch.topic, "phx_join", ch.params());
  }

  function scheduleRejoin(ch) {
    if (ch.rejoinTimer || state !== "open") return;
    ch.rejoinTimer = setTimeout(function () { join(ch); }, 500 + Math.random() * 2000);
  }

  function handleFrame(data) {
    var msg;
    try { msg = JSON.parse(data); } catch (e) { return; }
    if (!Array.isArray(msg) || msg.length !== 5) return;
    var joinRef = msg[0], ref = msg[1], topic = msg[2], event = msg[3], payload = msg[4] || {};
    if (event === "phx_reply") return settle(ref, payload);
    var ch = channels[topic];
    // A push tagged with an older join belongs to a channel instance we already replaced.
    if (!ch || (joinRef !== null && joinRef !== ch.joinRef)) return;
    handlePush(ch, event, payload);
  }

  function handlePush(ch, event, payload) {
    if (event === "phx_close" || event === "phx_error") {
      // The server dropped this channel (crash, or a duplicate join); every topic we hold is
      // one the page still shows, so we want it back.
      ch.joined = false;
      scheduleRejoin(ch);
    } else if (event === "new_token") {
      if (typeof payload.token === "string") token = payload.token;
    } else if (event === "cart") {
      applyCart(payload);
    } else if (typeof payload.html === "string") {
      swapHtml(payload.html);
    }
  }

  // ---- Forms ------------------------------------------------------------------------------
  function formUrl(form) {
    var url;
    try { url = new URL(form.getAttribute("action") || location.href, location.href); } catch (e) { return null; }
    return url.origin === location.origin ? url : null;
  }

  // A size is the clicked button of its product's form (`name="item_id"`).
  function cartCommand(url, form, submitter) {
    var id, m;
    if (url.pathname === "/cart/items") {
      var field = submitter && submitter.name === "item_id" ? submitter : form.elements.namedItem("item_id");
      id = field && typeof field.value === "string" ? parseInt(field.value, 10) : NaN;
      return isNaN(id) ? null : { event: "add_item", itemId: id };
    }
    m = /^\/cart\/items\/(\d+)\/delete$/.exec(url.pathname);
    return m ? { event: "remove_item", itemId: parseInt(m[1], 10) } : null;
  }

  function pushCartCommand(ch, cmd) {
    var ref = nextRef();
    expectReply(ref, REPLY_TIMEOUT_MS, function (reply) {
      if (reply.status === "ok") return applyCart(reply.response);
      var message = reply.response && reply.response.message;
      showFlash(typeof message === "string" ? message : NO_REPLY_TEXT[reply.status] || FALLBACK_TEXT);
    });
    send(ch.joinRef, ref, ch.topic, cmd.event, { item_id: cmd.itemId });
  }

  // Pushed fragments are shared by every subscriber, so they carry no CSRF token; a plain
  // submit of a swapped-in form needs it put back.
  function ensureCsrf(form) {
    var csrf = meta("csrf-token");
    if (!csrf) return;
    var input = form.querySelector('input[name="_csrf_token"]');
    if (!input) {
      input = form.appendChild(document.createElement("input"));
      input.type = "hidden";
      input.name = "_csrf_token";
    }
    if (!input.value) input.value = csrf;
  }

  function onSubmit(ev) {
    var form = ev.target;
    if (!(form instanceof HTMLFormElement) || ev.defaultPrevented) return;
    if ((form.getAttribute("method") || "get").toLowerCase() !== "post") return;
    var url = formUrl(form);
    if (!url) return;
    var cmd = cartCommand(url, form, ev.submitter);
    var cart = cartId ? channels["cart:" + cartId] : null;
    if (!cmd || !cart || !cart.joined || state !== "open") return ensureCsrf(form);
    ev.preventDefault();
    pushCartCommand(cart, cmd);
  }

  // ---- Start ------------------------------------------------------------------------------
  function productIds() {
    var seen = {};
    document.querySelectorAll("[data-product-id]").forEach(function (el) {
      seen[el.getAttribute("data-product-id")] = true;
    });
    return Object.keys(seen).filter(function (id) { return id !== ""; });
  }

  function startLive() {
    var adminToken = meta("admin-token");
    token = adminToken || meta("socket-token");
    if (!token) return;
    isAdmin = !!adminToken;
    if (isAdmin) {
      socketPath = "/admin_socket/websocket";
      addChannel("admin:cart_tracker", emptyParams);
    } else {
      productIds().forEach(function (id) { addChannel("product:" + id, productParams(id)); });
      cartId = meta("cart-id");
      if (cartId) addChannel("cart:" + cartId, cartParams);
    }
    if (Object.keys(channels).length === 0) return;
    window.addEventListener("pagehide", suspend);
    window.addEventListener("pageshow", resume);
    startStatusTimer();
    connect();
  }

  // A page kept in the back/forward cache is frozen with its socket still open: the server
  // would count a shopper who left until the idle timeout. Close it as the page goes (the
  // server's leave is immediate) and reconnect if the page comes back; the join re-sends
  // the current state.
  function suspend() {
    suspended = true;
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    clearTimeout(heartbeatTimer);
    var sock = ws;
    ws = null;
    state = "closed";
    failPending();
    forEachChannel(function (ch) { ch.joined = false; clearTimeout(ch.rejoinTimer); ch.rejoinTimer = null; });
    if (sock) { try { sock.close(1000, "page hidden"); } catch (e) { /* already closing */ } }
  }

  function resume(ev) {
    if (!ev.persisted || !suspended) return;
    suspended = false;
    attempt = 0;
    connect();
  }

  function init() {
    tick();
    setInterval(tick, 1000);
    document.addEventListener("submit", onSubmit);
    startLive();
  }

  window.Sneakers = {
    socketState: function () { return state; },
    transport: function () { return longPoll ? "longpoll" : "websocket"; }
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

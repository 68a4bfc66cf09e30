// One Phoenix Channels V2 connection for the page's whole life (navigation keeps it): the
// transport (WebSocket, or Phoenix's LongPoll where upgrades never work), heartbeats paced from
// the previous reply, reconnects with jittered back-off (backoff.js), and channels that rejoin
// by themselves. It knows topics and events, nothing of what they mean. No DOM: the reconnect
// bench runs it in Node with the `ws` package as its WebSocket.
import { reconnectDelay, HEALTHY_MS } from "./backoff.js";

var HEARTBEAT_MS = 30000, REPLY_TIMEOUT_MS = 10000;
// WebSocket upgrades failing this long (none ever opened) -> LongPoll, as phoenix.js's
// `longPollFallbackMs`; once it works, the tab keeps it (the storage given).
var LONGPOLL_FALLBACK_MS = 2500, TRANSPORT_KEY = "sneakers:transport";

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

// opts: url(transport) -> the endpoint with the current token ("websocket" | "longpoll");
// WebSocket (default the global); storage (sessionStorage or null); refreshToken() -> a
// promise, tried after two refusals in a row (the browser hides a 403 behind a bare close);
// onDown() when the connection is lost; onCaughtUp() once every channel is joined again;
// onClose(code) for every close; random (Math.random unless pinned); reconnectDelay(attempt,
// restart, random) to replace the back-off (the bench compares Phoenix's own).
export function createSocket(opts) {
  var Native = opts.WebSocket || (typeof WebSocket === "undefined" ? null : WebSocket);
  var storage = opts.storage || null;
  var ws = null, state = "closed", lastRef = 0;
  var channels = {};       // topic -> channel
  var pending = {};        // ref -> {callback, timer}
  var attempt = 0;         // back-off step: reset only after a healthy minute
  var refusals = 0;        // consecutive sockets that closed before they ever opened
  var openedAt = 0, reconnectTimer = null, heartbeatTimer = null, suspended = false;
  var longPoll = remembered() === "longpoll" || !Native;
  var wsOpened = false, wsFailingSince = null;

  function remembered() {
    try { return storage ? storage.getItem(TRANSPORT_KEY) : null; } catch (e) { return null; }
  }

  function nextRef() { lastRef += 1; return String(lastRef); }

  function openTransport() {
    if (!longPoll) return new Native(opts.url("websocket"));
    return new LongPollSocket(opts.url("longpoll"));
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

  function forEachChannel(fn) {
    Object.keys(channels).forEach(function (topic) { fn(channels[topic]); });
  }

  // ---- Connection lifecycle -------------------------------------------------------------
  function connect() {
    if (ws || suspended) return;
    state = "connecting";
    var sock, opened = false;
    try { sock = openTransport(); } catch (e) { return handleClosed(0, false); }
    ws = sock;
    sock.onopen = function () { if (sock === ws) { opened = true; handleOpen(); } };
    sock.onmessage = function (ev) { if (sock === ws) handleFrame(ev.data); };
    // An error before open is followed by a close that counts the refusal; after open, a
    // broken socket is dropped at once rather than waiting for a close handshake.
    sock.onerror = function () { if (sock === ws && opened) abandon(); };
    sock.onclose = function (ev) { if (sock === ws) handleClosed(ev.code, opened); };
  }

  function handleOpen() {
    state = "open";
    refusals = 0;
    openedAt = Date.now();
    if (longPoll) { try { if (storage) storage.setItem(TRANSPORT_KEY, "longpoll"); } catch (e) { /* private mode */ } }
    else wsOpened = true;
    forEachChannel(join);
    scheduleHeartbeat();
  }

  // Used when the socket is known dead (missed heartbeat, error): stop listening to it and
  // reconnect now; its own close event may take a long time to arrive.
  function abandon() {
    var sock = ws;
    if (!sock) return;
    ws = null;
    try { sock.close(1000); } catch (e) { /* already closing */ }
    handleClosed(1006, true);
  }

  function dropChannels() {
    clearTimeout(heartbeatTimer);
    failPending();
    forEachChannel(function (ch) {
      ch.joined = false;
      clearTimeout(ch.rejoinTimer);
      ch.rejoinTimer = null;
    });
  }

  function handleClosed(code, opened) {
    ws = null;
    state = "closed";
    if (opts.onClose) opts.onClose(code);
    if (suspended) return;
    dropChannels();
    if (opened && Date.now() - openedAt >= HEALTHY_MS) attempt = 0;
    refusals = opened ? 0 : refusals + 1;
    noteClosed(opened);
    if (opts.onDown) opts.onDown();
    scheduleReconnect(code === 1012);
  }

  function scheduleReconnect(restart) {
    if (reconnectTimer) return;
    var delay = (opts.reconnectDelay || reconnectDelay)(attempt, restart, opts.random);
    attempt = Math.min(attempt + 1, 16);
    reconnectTimer = setTimeout(reconnect, delay);
  }

  // If the token fetch fails the socket is tried all the same: the refusal may have been the
  // network, and the back-off keeps this from becoming a tight loop.
  function reconnect() {
    reconnectTimer = null;
    state = "connecting";
    if (opts.refreshToken && refusals >= 2) opts.refreshToken().then(connect, connect);
    else connect();
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
      if (reply.status === "timeout") abandon();
      else if (reply.status !== "closed") scheduleHeartbeat();
    });
    send(null, ref, "phoenix", "heartbeat", {});
  }

  // ---- Channels -------------------------------------------------------------------------
  function caughtUp() {
    return state === "open" && Object.keys(channels).every(function (t) {
      return channels[t].joined || channels[t].refused;
    });
  }

  function join(ch) {
    clearTimeout(ch.rejoinTimer);
    ch.rejoinTimer = null;
    if (state !== "open" || channels[ch.topic] !== ch) return;
    var ref = nextRef();
    ch.joinRef = ref;
    ch.joined = false;
    ch.refused = false;
    expectReply(ref, REPLY_TIMEOUT_MS, function (reply) {
      if (channels[ch.topic] !== ch || ch.joinRef !== ref) return;
      if (reply.status === "ok") {
        ch.joined = true;
        if (ch.handlers.onJoin) ch.handlers.onJoin(reply.response || {});
        if (caughtUp() && opts.onCaughtUp) opts.onCaughtUp();
      } else if (reply.status === "timeout") {
        scheduleRejoin(ch);
      } else if (reply.status === "error") {
        // "unmatched topic", "unauthorized", "not_found" would only repeat now; the next
        // reconnect tries again. The page does not wait for it to catch up.
        ch.refused = true;
        if (ch.handlers.onRefused) ch.handlers.onRefused(reply.response || {});
        if (caughtUp() && opts.onCaughtUp) opts.onCaughtUp();
      }
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
    if (event === "phx_close" || event === "phx_error") {
      // The server dropped this channel (crash, or a duplicate join); every topic we hold is
      // one the page still shows, so we want it back.
      ch.joined = false;
      scheduleRejoin(ch);
    } else if (ch.handlers.onPush) {
      ch.handlers.onPush(event, payload);
    }
  }

  // A channel the page needs: joined now if connected, and again after every reconnect.
  // params() is read at every join. handlers: onPush(event, payload), onJoin(response),
  // onRefused(response).
  function channel(topic, params, handlers) {
    var old = channels[topic];
    if (old) leaveChannel(old, false);
    var ch = { topic: topic, params: params, handlers: handlers || {}, joinRef: null,
      joined: false, refused: false, rejoinTimer: null };
    ch.push = function (event, payload, callback) {
      if (!ch.joined || state !== "open") return false;
      var ref = nextRef();
      expectReply(ref, REPLY_TIMEOUT_MS, callback || function () {});
      send(ch.joinRef, ref, ch.topic, event, payload);
      return true;
    };
    ch.rejoin = function () { join(ch); };
    ch.leave = function () { leaveChannel(ch, true); };
    channels[topic] = ch;
    join(ch);
    return ch;
  }

  function leaveChannel(ch, tell) {
    if (channels[ch.topic] !== ch) return;
    delete channels[ch.topic];
    clearTimeout(ch.rejoinTimer);
    if (tell && ch.joinRef && state === "open") send(ch.joinRef, nextRef(), ch.topic, "phx_leave", {});
    ch.joined = false;
  }

  // A page kept in the back/forward cache is frozen with its socket still open: the server
  // would count a shopper who left until the idle timeout. Close it as the page goes (the
  // server's leave is immediate) and reconnect if the page comes back; joins re-send the state.
  function suspend() {
    suspended = true;
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    var sock = ws;
    ws = null;
    state = "closed";
    dropChannels();
    if (sock) { try { sock.close(1000, "page hidden"); } catch (e) { /* already closing */ } }
  }

  function resume() {
    if (!suspended) return;
    suspended = false;
    attempt = 0;
    connect();
  }

  return {
    connect: connect,
    channel: channel,
    suspend: suspend,
    resume: resume,
    caughtUp: caughtUp,
    topics: function () { return Object.keys(channels); },
    get: function (topic) { return channels[topic] || null; },
    state: function () { return state; },
    transport: function () { return longPoll ? "longpoll" : "websocket"; }
  };
}

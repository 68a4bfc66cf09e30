// The shim's reconnect timing, on its own code (static/js/socket.js and backoff.js) with a fake
// WebSocket and Node's mock clock: exponential windows with full jitter, capped; a 1012 close
// waits within the restart window; the back-off resets only after a healthy minute.
// Run by tests/it/shim_timing.rs (`node --test`).
import { test, mock } from "node:test";
import assert from "node:assert/strict";
import { reconnectDelay, MAX_BACKOFF_MS, RESTART_WINDOW_MS, HEALTHY_MS } from "../../static/js/backoff.js";
import { createSocket } from "../../static/js/socket.js";

test("windows double from a second, are capped, and the delay is anywhere within", () => {
  const top = () => 0.999999;
  assert.equal(reconnectDelay(0, false, () => 0), 0);
  assert.equal(reconnectDelay(0, false, top), 999);
  assert.equal(reconnectDelay(3, false, top), 7999);
  assert.equal(reconnectDelay(10, false, top), MAX_BACKOFF_MS - 1);
  assert.equal(reconnectDelay(0, true, top), RESTART_WINDOW_MS - 1, "a restart spreads over its window");
  const draws = new Set(Array.from({ length: 200 }, () => reconnectDelay(4, false)));
  assert.ok(draws.size > 150, "full jitter: the delays are spread, not a few fixed steps");
});

// A socket whose fate the test decides: opened, closed with a code.
class FakeSocket {
  constructor(url) { this.url = url; FakeSocket.made.push(this); }
  send() {}
  close() {}
  open() { this.onopen(); }
  drop(code) { this.onclose({ code }); }
}

function crowd() {
  FakeSocket.made = [];
  const socket = createSocket({ url: () => "ws://test/socket", WebSocket: FakeSocket, random: () => 0.999999 });
  socket.connect();
  return socket;
}

// The delay before the next socket: the clock is moved until one is made.
function nextDelay() {
  const before = FakeSocket.made.length;
  for (let ms = 1; ms <= 60000; ms += 1) {
    mock.timers.tick(1);
    if (FakeSocket.made.length > before) return ms;
  }
  throw new Error("no reconnect within a minute");
}

test("the back-off grows while the node is away and resets after a healthy minute", () => {
  mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
  try {
    crowd();
    FakeSocket.made[0].open();
    mock.timers.tick(5000);
    FakeSocket.made.at(-1).drop(1006);
    assert.equal(nextDelay(), 999, "first window: a second");
    FakeSocket.made.at(-1).drop(1006);
    assert.equal(nextDelay(), 1999, "then two");
    FakeSocket.made.at(-1).drop(1006);
    assert.equal(nextDelay(), 3999, "then four");
    // Up for ten seconds only: not healthy, the back-off goes on growing.
    FakeSocket.made.at(-1).open();
    mock.timers.tick(10000);
    FakeSocket.made.at(-1).drop(1006);
    assert.equal(nextDelay(), 7999, "a short-lived connection does not reset it");
    // Up for a minute: healthy, the next failure starts from a second again.
    FakeSocket.made.at(-1).open();
    mock.timers.tick(HEALTHY_MS);
    FakeSocket.made.at(-1).drop(1006);
    assert.equal(nextDelay(), 999, "reset after a healthy minute");
    // A node restarting (1012) sends its pages back within the restart window.
    FakeSocket.made.at(-1).open();
    mock.timers.tick(HEALTHY_MS);
    FakeSocket.made.at(-1).drop(1012);
    assert.equal(nextDelay(), RESTART_WINDOW_MS - 1);
  } finally {
    mock.timers.reset();
  }
});

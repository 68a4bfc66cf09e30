// When to try the socket again. Pure functions, shared by the page and the reconnect bench
// (scripts/perf/reconnect-spread.mjs), so what is measured is what pages do.

export var BASE_MS = 1000;
export var MAX_BACKOFF_MS = 30000;
// A restarting node closes its sockets over a few seconds (1012); each page then waits a
// random moment within this window, on top of the server's own spread.
export var RESTART_WINDOW_MS = 5000;
// A socket that stayed up this long was healthy: the next failure starts from the base again.
export var HEALTHY_MS = 60000;

// Full jitter: anywhere between 0 and the exponential window, so a crowd that lost its node
// together does not come back together. `random` is Math.random unless a test pins it.
export function reconnectDelay(attempt, restart, random) {
  var windowMs = Math.min(MAX_BACKOFF_MS, BASE_MS * Math.pow(2, attempt));
  if (restart) windowMs = Math.max(windowMs, RESTART_WINDOW_MS);
  return Math.floor((random || Math.random)() * windowMs);
}

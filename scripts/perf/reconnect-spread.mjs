// How a crowd of pages comes back after its node restarts. Runs N copies of the shim's own
// connection code (static/js/socket.js, with the `ws` package as its WebSocket) against a store
// it starts, each joined to a product and a cart as a product page is; once all are in, the
// store is stopped (SIGTERM: sockets closed with 1012 over SHUTDOWN_SPREAD_MS) and started
// again on the same port and database. Prints one JSON line: when the reconnects reached the
// new node (ms after the first close): percentiles, the busiest 100 ms and second, refused
// attempts, and when every page had caught up.
//
//   node scripts/perf/reconnect-spread.mjs --bin target/release/sneakers [--pages 19000]
//     [--policy shim|phoenix] [--src-ips 16] [--ramp-per-second 2000]
//
// --policy phoenix swaps the back-off for phoenix.js's default (10, 50, 100, 150, 200, 250,
// 500, 1000, 2000 ms, then 5 s; no jitter), to see the spike it avoids.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createSocket } from "../../static/js/socket.js";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "../../tests/js/package.json"));
let WS;
try { WS = require("ws"); } catch (e) {
  console.error("the ws package is missing: run `npm ci --prefix tests/js`");
  process.exit(1);
}

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith("--") ? all[i + 1] : "1"]);
  return acc;
}, []));
const bin = args.bin;
if (!bin) { console.error("usage: reconnect-spread.mjs --bin PATH [--pages N] [--policy shim|phoenix]"); process.exit(2); }
const pages = Number(args.pages || 19000);
const policy = args.policy || "shim";
const srcIps = Number(args["src-ips"] || 16);
const rampPerSecond = Number(args["ramp-per-second"] || 2000);
const port = 20000 + Math.floor(Math.random() * 20000);
const dir = mkdtempSync(join(tmpdir(), "sneakers-spread-"));
const base = `http://127.0.0.1:${port}`;
const env = { ...process.env, PORT: String(port), HOST: "127.0.0.1", RATE_LIMIT: "off",
  DATABASE_URL: `sqlite://${join(dir, "s.db")}`, SECRET_KEY_BASE: "k".repeat(70),
  ADMIN_USERNAME: "admin", ADMIN_PASSWORD: "spread-admin", RUST_LOG: "warn" };

const PHOENIX_STEPS = [10, 50, 100, 150, 200, 250, 500, 1000, 2000];
const phoenixDelay = (attempt) => PHOENIX_STEPS[attempt] ?? 5000;

const log = (m) => process.stderr.write(m + "\n");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let store = null;
function startStore() {
  store = spawn(bin, ["serve"], { env, cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  return store;
}
async function waitHealthy() {
  for (let i = 0; i < 300; i++) {
    try { if ((await fetch(`${base}/healthz`)).ok) return; } catch (e) { /* not yet */ }
    await sleep(50);
  }
  throw new Error("the store did not start");
}
function stop() {
  return new Promise((resolve) => { store.once("exit", resolve); store.kill("SIGTERM"); });
}

let phase = "connect";
const opens = [], closes = [], caught = [];
let refused = 0, restartAt = 0;

startStore();
await waitHealthy();
const { token, cart_id: cartId } = await (await fetch(`${base}/session/token`)).json();
const product = (await (await fetch(`${base}/admin/inventory`, {
  headers: { authorization: "Basic " + Buffer.from("admin:spread-admin").toString("base64") } })).json())
  .products.find((p) => p.released).id;

let made = 0;
function page(i) {
  const localAddress = `127.0.0.${1 + (i % srcIps)}`;
  function Socket(url) {
    const ws = new WS(url, { localAddress, perMessageDeflate: false });
    ws.on("open", () => { if (phase === "restart") opens.push(Date.now()); });
    ws.on("unexpected-response", () => { if (phase === "restart") refused += 1; });
    ws.on("error", () => { if (phase === "restart") refused += 1; });
    return ws;
  }
  let ready = false;
  const sock = createSocket({
    url: (t) => `ws://127.0.0.1:${port}/socket/${t}?vsn=2.0.0&token=${encodeURIComponent(token)}`,
    WebSocket: Socket,
    reconnectDelay: policy === "phoenix" ? phoenixDelay : undefined,
    onClose: (code) => { if (phase === "restart") closes.push([Date.now(), code]); },
    onCaughtUp: () => {
      if (!ready) { ready = true; made += 1; }
      else if (phase === "restart") caught.push(Date.now());
    },
  });
  sock.channel(`product:${product}`, () => ({ sizes_shown: true }), {});
  sock.channel(`cart:${cartId}`, () => ({ serialized: null, page: `/products/${product}` }), {});
  sock.connect();
  return sock;
}

log(`${pages} pages (${policy} back-off) on ${base} from ${srcIps} addresses`);
const sockets = [];
for (let i = 0; i < pages; i++) {
  sockets.push(page(i));
  if (i % Math.max(1, Math.floor(rampPerSecond / 20)) === 0) await sleep(50);
}
for (let waited = 0; made < pages; waited += 200) {
  if (waited > 120000) { log(`only ${made} of ${pages} pages joined`); break; }
  await sleep(200);
}
log(`${made} pages live; restarting the store`);

phase = "restart";
restartAt = Date.now();
await stop();
const stoppedAt = Date.now();
startStore();
await waitHealthy();
const upAt = Date.now();
log(`stopped in ${stoppedAt - restartAt} ms, serving again ${upAt - stoppedAt} ms later`);
for (let waited = 0; caught.length < made; waited += 200) {
  if (waited > 180000) { log(`only ${caught.length} of ${made} pages caught up`); break; }
  await sleep(200);
}

const t0 = closes.length ? Math.min(...closes.map((c) => c[0])) : restartAt;
const rel = (xs) => xs.map((t) => t - t0).sort((a, b) => a - b);
const pct = (xs, p) => xs.length ? xs[Math.min(xs.length - 1, Math.floor(p / 100 * xs.length))] : null;
function busiest(xs, width) {
  const buckets = new Map();
  for (const t of xs) { const b = Math.floor(t / width); buckets.set(b, (buckets.get(b) || 0) + 1); }
  let best = [0, 0];
  for (const [b, n] of buckets) if (n > best[1]) best = [b * width, n];
  return { at_ms: best[0], arrivals: best[1] };
}
const arrivals = rel(opens), done = rel(caught);
const report = {
  pages, policy, joined: made,
  closes_1012: closes.filter((c) => c[1] === 1012).length,
  close_spread_ms: closes.length ? Math.max(...closes.map((c) => c[0])) - t0 : null,
  down_ms: upAt - stoppedAt,
  server_back_ms: upAt - t0,
  reconnects: arrivals.length,
  refused_attempts: refused,
  arrival_ms: { p10: pct(arrivals, 10), p50: pct(arrivals, 50), p90: pct(arrivals, 90), p99: pct(arrivals, 99), max: pct(arrivals, 100) },
  busiest_100ms: busiest(arrivals, 100),
  busiest_second: busiest(arrivals, 1000),
  caught_up: done.length,
  all_caught_up_ms: pct(done, 100),
};
console.log(JSON.stringify(report));
for (const s of sockets) s.suspend();
await stop();
rmSync(dir, { recursive: true, force: true });
process.exit(0);

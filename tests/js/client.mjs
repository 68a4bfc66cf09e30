// The official Phoenix client over LongPoll, driven by tests/it/js.rs:
//   node client.mjs <socket endpoint> <token> '[["topic", {params}], ...]'
// Prints one JSON line per thing that happens ({"open"}, {"joined"}, {"event"}, {"reply"},
// {"presence"}); reads {"push", "event", "payload"} lines from stdin.
import { Socket, LongPoll, Presence } from "phoenix";
import { createInterface } from "node:readline";
import WebSocket from "ws";

const [endpoint, token, topicsJson] = process.argv.slice(2);
const say = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const logger = process.env.PHX_LOG ? (kind, msg, data) => process.stderr.write(`${kind}: ${msg} ${JSON.stringify(data)}\n`) : undefined;
// PHX_FALLBACK=<ms>: WebSocket first (the `ws` package: Node 20 has none), LongPoll when the
// upgrade fails, as `longPollFallbackMs` does in a browser.
const fallback = Number(process.env.PHX_FALLBACK || 0);
const options = fallback
  ? { transport: WebSocket, longPollFallbackMs: fallback }
  : { transport: LongPoll };
const socket = new Socket(fallback ? endpoint.replace(/^http/, "ws") : endpoint, { ...options, params: { token }, timeout: 10000, logger });
socket.onOpen(() => say({ open: socket.transport === LongPoll ? "longpoll" : "websocket" }));
socket.onError((error) => say({ error: String(error) }));
socket.connect();
const channels = {};
for (const [topic, params] of JSON.parse(topicsJson)) {
  const channel = socket.channel(topic, params);
  channel.onMessage = (event, payload) => {
    if (!event.startsWith("phx_")) say({ topic, event, payload });
    return payload;
  };
  if (topic.startsWith("admin:")) {
    const presence = new Presence(channel);
    presence.onSync(() => say({ presence: presence.list((key) => key) }));
  }
  channel.join()
    .receive("ok", (response) => say({ joined: topic, response }))
    .receive("error", (response) => say({ join_error: topic, response }));
  channels[topic] = channel;
}
createInterface({ input: process.stdin }).on("line", (text) => {
  const { push, event, payload } = JSON.parse(text);
  if (process.env.PHX_LOG) process.stderr.write(`command: ${text}\n`);
  channels[push].push(event, payload)
    .receive("ok", (response) => say({ reply: { status: "ok", response } }))
    .receive("error", (response) => say({ reply: { status: "error", response } }))
    .receive("timeout", () => say({ reply: { status: "timeout" } }));
});
process.stdin.on("end", () => process.exit(0));

// The live stream (GET /v1/stream), read with fetch() so the key travels in the
// Authorization header (EventSource cannot send one, and a key in the URL would end up in
// logs). On a drop it retries with backoff, 0.5 s doubling to 8 s; every (re)connect starts
// with a `hello`, on which the page refetches what it shows.
import { authHeaders } from "./api.js";

export function connect({ onEvent, onState }) {
  let delay = 500, stopped = false, controller = null;

  async function run() {
    while (!stopped) {
      controller = new AbortController();
      try {
        const response = await fetch("/v1/stream", { headers: authHeaders(), signal: controller.signal });
        if (response.status === 401 || response.status === 403) {
          onState("denied", `the stream refused the key (${response.status})`);
          return;
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        onState("up");
        delay = 500;
        await read(response.body.getReader(), onEvent);
        throw new Error("the stream ended");
      } catch (err) {
        if (stopped) return;
        onState("down", `reconnecting in ${Math.round(delay / 1000)} s`);
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(delay * 2, 8000);
      }
    }
  }

  run();
  return () => { stopped = true; if (controller) controller.abort(); };
}

async function read(reader, onEvent) {
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) onEvent(event, JSON.parse(data));
    }
  }
}

// The service's clock in the page: countdowns run on it, not on the laptop's clock, so they
// agree with the notices the service sends (and run accelerated in `tocsin demo`).
import { get } from "./api.js";

let reference = { server: Date.now() / 1000, local: performance.now(), rate: 1 };
export let settings = { escalation_hours: [3, 5], response_hours: 6 };

export async function sync() {
  const clock = await get("/v1/console/clock");
  reference = { server: Date.parse(clock.now) / 1000, local: performance.now(), rate: clock.rate };
  settings = clock;
  return clock;
}

export function now() {
  return reference.server + ((performance.now() - reference.local) / 1000) * reference.rate;
}

export const epoch = (rfc3339) => Date.parse(rfc3339) / 1000;

export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return `${h}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}`;
}

// The clock of an alert (or crisis): time left to response_due_at and how it looks. Amber
// from the first escalation point, red from the second, overdue from the deadline on; a
// response under way (or done) stops it.
export function countdown(item, at = now()) {
  if (!["open", "acknowledged"].includes(item.status)) {
    return { text: "clock stopped", cls: "clock-stopped", left: Infinity };
  }
  const raised = epoch(item.raised_at), due = epoch(item.response_due_at);
  const elapsed = at - raised, left = due - at;
  const [amber, red] = [...settings.escalation_hours].sort((a, b) => a - b);
  if (left <= 0) return { text: `overdue ${duration(-left)}`, cls: "clock-overdue", left };
  let cls = "clock-ok";
  if (red !== undefined && elapsed >= red * 3600) cls = "clock-red";
  else if (amber !== undefined && elapsed >= amber * 3600) cls = "clock-amber";
  return { text: `${duration(left)} left`, cls, left };
}

export function when(rfc3339) {
  if (!rfc3339) return "—";
  return new Date(rfc3339).toISOString().replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, " UTC");
}

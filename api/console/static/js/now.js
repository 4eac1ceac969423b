// Now: open and acknowledged alerts and crises, the nearest deadline first.
import { get } from "./api.js";
import { countdown, epoch, when } from "./clock.js";
import { badge, h, severityBadge } from "./dom.js";

const WATCHED = ["open", "acknowledged"];

export async function load() {
  const pages = await Promise.all(WATCHED.map((status) => get(`/v1/alerts?status=${status}&limit=500`)));
  const alerts = pages.flatMap((p) => p.items);
  let crises = [];
  try {
    const data = await get("/v1/crises?limit=500");
    // A crisis of one alert is that alert: only those holding several are shown as crises.
    crises = data.items.filter((c) => WATCHED.includes(c.status) && c.alert_ids.length > 1)
      .map((c) => ({ ...c, raised_at: c.started_at }));
  } catch { crises = []; }  // crises unavailable (an older service): the alerts still show
  return { alerts, crises };
}

export function render(root, { alerts, crises }, fresh) {
  const rows = [
    ...crises.map((c) => ({ kind: "crisis", item: c })),
    ...alerts.map((a) => ({ kind: "alert", item: a })),
  ].sort((a, b) => epoch(a.item.response_due_at) - epoch(b.item.response_due_at)
                 || epoch(a.item.raised_at) - epoch(b.item.raised_at));
  root.replaceChildren(
    h("h1", {}, "Now ", h("span", { class: "muted" }, `${plural(alerts.length, "alert")}, ${plural(crises.length, "crisis", "crises")} awaiting a response`)),
    rows.length === 0
      ? h("p", { class: "muted", id: "now-empty" }, "Nothing open. Alerts appear here as they are raised.")
      : h("table", { id: "now-table" },
          h("thead", {}, h("tr", {}, ["Time left", "Severity", "Status", "Kind", "Entity", "Signal", "Why", "Raised"].map((t) => h("th", {}, t)))),
          h("tbody", {}, rows.map((row) => rowFor(row, fresh)))),
  );
}

function rowFor({ kind, item }, fresh) {
  const href = kind === "crisis" ? `#/crisis/${encodeURIComponent(item.id)}` : `#/alert/${encodeURIComponent(item.id)}`;
  const clock = countdown(item);
  const signals = kind === "crisis" ? item.signals.join(", ") : item.signal;
  const why = kind === "crisis" ? `${item.alert_ids.length} alerts, ${item.fused_signals} signals at once` : item.message;
  return h("tr", { "data-id": item.id, class: fresh.has(item.id) ? "fresh" : null },
    h("td", {}, h("span", { class: `countdown ${clock.cls}`, "data-countdown": "", "data-raised": item.raised_at,
                            "data-due": item.response_due_at, "data-status": item.status }, clock.text)),
    h("td", {}, severityBadge(item.severity)),
    h("td", {}, item.status),
    h("td", {}, kind === "crisis" ? badge("crisis", "crisis") : item.kind),
    h("td", {}, h("a", { href }, item.entity)),
    h("td", {}, signals),
    h("td", { class: "why" }, why),
    h("td", { class: "mono" }, when(item.raised_at)),
  );
}

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

// The crisis view: an entity's alerts that belong together, worked as one. Moves and roles
// go to the crisis endpoints (which apply them to each alert that allows them); the
// post-mortem is the crisis' review, with Tocsin's verdict on how each signal moved.
import { api, get } from "./api.js";
import { actionButton, label, readonlyNote, ROLES } from "./alert.js";
import { seriesChart } from "./chart.js";
import { countdown, when } from "./clock.js";
import { h, severityBadge } from "./dom.js";

const REMEDIES = ["apology", "refund", "discount", "free_service", "replacement", "process_change"];
const TYPES = ["product_defect", "service_outage", "communication_failure"];
const LEVELS = ["none", "minor", "moderate", "severe"];

export async function load(id) {
  const crisis = await get(`/v1/crises/${encodeURIComponent(id)}`);
  const charts = await Promise.all(crisis.alerts.slice(0, 4).map((a) => get(`/v1/alerts/${encodeURIComponent(a.id)}/series`)));
  return { crisis, charts };
}

export function render(root, { crisis, charts }, ctx) {
  const item = { ...crisis, raised_at: crisis.started_at };
  const clock = countdown(item);
  const base = `/v1/crises/${encodeURIComponent(crisis.id)}`;
  const out = h("p", { class: "result", id: "action-result", role: "status", "aria-live": "polite" });
  const comment = h("textarea", { id: "comment", placeholder: "comment for the timeline (optional)", "aria-label": "comment" });
  const body = () => (comment.value.trim() ? { comment: comment.value.trim() } : {});
  const allowed = new Set(crisis.allowed);
  root.replaceChildren(
    h("p", {}, h("a", { href: "#/now" }, "← Now")),
    h("h1", {}, `Crisis on ${crisis.entity}`),
    h("div", { class: "facts" },
      severityBadge(crisis.severity),
      h("span", { id: "alert-status" }, `status: ${crisis.status}`),
      h("span", { class: `countdown ${clock.cls}`, "data-countdown": "", "data-raised": item.raised_at,
                  "data-due": crisis.response_due_at, "data-status": crisis.status }, clock.text),
      h("span", {}, `${crisis.fused_signals} signals at once: ${crisis.signals.join(", ")}`),
      h("span", { class: "muted" }, `type: ${crisis.crisis_type ? label(crisis.crisis_type) : "not set"}`),
    ),
    h("div", { class: "grid2" },
      h("section", {},
        charts.map((series) => h("div", { class: "panel" }, h("strong", {}, series.signal), seriesChart(series))),
        h("h2", {}, "Response"),
        h("div", { class: "panel" }, readonlyNote(ctx), comment,
          h("div", { class: "actions" }, [["acknowledge", "Acknowledge all"], ["respond", "Start response"], ["resolve", "Resolve all"]]
            .map(([move, text]) => actionButton(text, () => api("POST", `${base}/${move}`, body()), out, ctx,
              { primary: allowed.has(move) }))),
          out),
        h("h2", {}, "Roles"),
        roles(crisis, base, ctx),
        h("h2", {}, "Post-mortem"),
        crisis.review ? review(crisis.review) : reviewForm(crisis, base, ctx),
      ),
      h("section", {},
        h("h2", {}, "Alerts"),
        h("table", { id: "crisis-alerts" }, h("tbody", {}, crisis.alerts.map((a) => h("tr", {},
          h("td", {}, severityBadge(a.severity)),
          h("td", {}, h("a", { href: `#/alert/${encodeURIComponent(a.id)}` }, `${a.signal} · ${label(a.kind)}`)),
          h("td", {}, a.status),
          h("td", { class: "why" }, a.message))))),
      ),
    ),
  );
}

function roles(crisis, base, ctx) {
  const out = h("p", { class: "result", id: "role-result", role: "status" });
  const select = h("select", { id: "role-select", "aria-label": "role" }, ROLES.map((r) => h("option", { value: r }, label(r))));
  const name = h("input", { id: "role-name", "aria-label": "name", maxlength: 200, value: ctx.me.name });
  return h("div", { class: "panel" },
    h("table", { id: "roles-table" }, h("tbody", {}, crisis.roles.length ? crisis.roles.map((r) => h("tr", { "data-role": r.role },
      h("th", {}, label(r.role)), h("td", {}, r.name), h("td", { class: "muted" }, `${r.alert_ids.length} alert(s)`),
      h("td", {}, actionButton("Release", () => api("DELETE", `${base}/roles/${r.role}`, {}), out, ctx)))) :
      h("tr", {}, h("td", { class: "muted" }, "nobody holds a role yet")))),
    h("div", { class: "role-form" }, select, name,
      actionButton("Assign", () => api("PUT", `${base}/roles/${select.value}`, { name: name.value.trim() }), out, ctx)),
    out);
}

function reviewForm(crisis, base, ctx) {
  const out = h("p", { class: "result", id: "review-result", role: "status" });
  const field = (id, text, input) => h("label", { for: id, style: "display:block; margin:.4rem 0" }, text, h("br"), input);
  const summary = h("textarea", { id: "pm-summary" });
  const cause = h("textarea", { id: "pm-cause" });
  const type = h("select", { id: "pm-type" }, TYPES.map((t) => h("option", { value: t, selected: t === crisis.crisis_type }, label(t))));
  const amount = h("input", { id: "pm-amount", type: "number", min: 0, step: "any", placeholder: "amount" });
  const currency = h("input", { id: "pm-currency", value: "EUR", size: 4, maxlength: 3, "aria-label": "currency" });
  const brand = h("select", { id: "pm-brand" }, LEVELS.map((l) => h("option", { value: l }, l)));
  const operational = h("select", { id: "pm-operational" }, LEVELS.map((l) => h("option", { value: l }, l)));
  const note = (id, text) => h("input", { id, maxlength: 2000, placeholder: text, "aria-label": text, style: "flex:1" });
  const brandNote = note("pm-brand-note", "brand impact: coverage, sentiment, trust (optional)");
  const operationalNote = note("pm-operational-note", "operational impact: disruption, staff time, backlog (optional)");
  const lost = h("input", { id: "pm-lost", type: "number", min: 0, step: 1 });
  const remedies = REMEDIES.map((r) => h("label", { style: "margin-right:.75rem" },
    h("input", { type: "checkbox", id: `pm-remedy-${r}`, value: r }), ` ${label(r)}`));
  const lessons = h("textarea", { id: "pm-lessons", placeholder: "one lesson per line" });
  const collect = () => {
    const level = (select, text) => (text.value.trim() ? { level: select.value, description: text.value.trim() }
      : { level: select.value });
    const impact = { brand: level(brand, brandNote), operational: level(operational, operationalNote) };
    if (amount.value !== "") impact.financial = { amount: Number(amount.value), currency: currency.value.trim().toUpperCase() };
    if (lost.value !== "") impact.customers_lost = Number(lost.value);
    return {
      summary: summary.value, root_cause: cause.value, crisis_type: type.value, impact,
      remedies: remedies.map((l) => l.querySelector("input")).filter((i) => i.checked).map((i) => i.value),
      lessons: lessons.value.split("\n").map((l) => l.trim()).filter(Boolean),
    };
  };
  return h("div", { class: "panel", id: "review-form" },
    field("pm-summary", "Summary", summary), field("pm-cause", "Root cause", cause), field("pm-type", "Crisis type", type),
    h("div", { class: "role-form" }, "Financial impact", amount, currency, "brand", brand, "operational", operational,
      "customers lost", lost),
    h("div", { class: "role-form" }, brandNote, operationalNote),
    h("div", { style: "margin:.5rem 0" }, "Remedies: ", remedies),
    field("pm-lessons", "Lessons", lessons),
    actionButton("Record post-mortem", () => api("PUT", `${base}/review`, collect()), out, ctx, { primary: crisis.status === "resolved" }),
    out);
}

function review(r) {
  return h("div", { class: "panel", id: "review" },
    h("p", {}, h("strong", {}, "Summary: "), r.summary), h("p", {}, h("strong", {}, "Root cause: "), r.root_cause),
    h("p", { class: "muted" }, `recorded by ${r.reviewed_by} at ${when(r.reviewed_at)}; remedies: ${r.remedies.map(label).join(", ") || "none"}`),
    h("p", { id: "review-impact" }, h("strong", {}, "Impact: "), impactText(r.impact)),
    r.lessons.length ? h("div", {}, h("strong", {}, "Lessons"), h("ul", { id: "review-lessons" }, r.lessons.map((l) => h("li", {}, l)))) : null,
    h("strong", {}, "How the signals moved after the response began"),
    h("ul", {}, r.movement.map((m) => h("li", {}, h("strong", {}, `${m.signal}: ${label(m.verdict)}`), ` ${m.summary}`))));
}

function impactText(impact) {
  const level = (name, note) => note && `${name} ${note.level}${note.description ? ` (${note.description})` : ""}`;
  return [
    impact.financial && `${impact.financial.amount.toLocaleString("en")} ${impact.financial.currency}`,
    level("brand", impact.brand), level("operational", impact.operational),
    impact.customers_lost !== null && impact.customers_lost !== undefined && `${impact.customers_lost} customers lost`,
  ].filter(Boolean).join("; ") || "not stated";
}

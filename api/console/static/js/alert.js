// The alert view: the evidence made visible (chart, numbers), the timeline, the roles, the
// six stages, and the buttons of the response. Every button calls the API and shows its
// answer as is: the service decides what is allowed, the page only says what it answered.
import { api, get } from "./api.js";
import { seriesChart, fmt } from "./chart.js";
import { countdown, when } from "./clock.js";
import { FIELDS, h, resetField, severityBadge } from "./dom.js";

export const ROLES = ["incident_commander", "information_officer", "technical_lead", "customer_care_lead", "legal_adviser"];
export const STAGES = ["alert_response", "assessment", "resource_allocation", "action", "effect_tracking", "post_mortem_review"];
const MOVES = [
  ["acknowledge", "Acknowledge"], ["respond", "Start response"], ["resolve", "Resolve"], ["review", "Record post-mortem"],
];
export const label = (name) => name.replaceAll("_", " ");

export async function load(id) {
  const path = `/v1/alerts/${encodeURIComponent(id)}`;
  const [workflow, timeline, series] = await Promise.all([get(`${path}/workflow`), get(`${path}/timeline`), get(`${path}/series`)]);
  return { workflow, timeline, series };
}

export function render(root, { workflow, timeline, series }, ctx) {
  const alert = workflow.alert;
  const clock = countdown(alert);
  const base = `/v1/alerts/${encodeURIComponent(alert.id)}`;
  root.replaceChildren(
    h("p", {}, h("a", { href: "#/now" }, "← Now")),
    h("h1", {}, `${alert.entity}: ${label(alert.kind)} on ${alert.signal}`),
    h("div", { class: "facts" },
      severityBadge(alert.severity),
      h("span", { id: "alert-status" }, `status: ${alert.status}`),
      h("span", { class: `countdown ${clock.cls}`, id: "alert-countdown", "data-countdown": "", "data-raised": alert.raised_at,
                  "data-due": alert.response_due_at, "data-status": alert.status }, clock.text),
      h("span", { class: "muted" }, `raised ${when(alert.raised_at)}, due ${when(alert.response_due_at)}`),
    ),
    h("p", { class: "why-line" }, alert.message),
    h("div", { class: "grid2" },
      h("section", {},
        h("div", { class: "panel" }, seriesChart(series), legend(series)),
        h("h2", {}, "Response"),
        actions(workflow, base, ctx),
        h("h2", {}, "Roles"),
        roles(workflow, base, ctx),
        h("h2", {}, "Stages"),
        stages(workflow),
      ),
      h("section", {},
        h("h2", {}, "Evidence"),
        evidence(alert.evidence),
        h("h2", {}, "Timeline"),
        h("ol", { class: "timeline", id: "timeline" }, timeline.entries.map(entry)),
      ),
    ),
  );
}

function legend(series) {
  return h("div", { class: "legend" },
    h("span", {}, h("i", { style: "border-color: var(--accent); border-top-style: solid" }), `${series.signal} per bucket`),
    series.baseline !== null ? h("span", {}, h("i", { style: "border-color: var(--ok)" }), `baseline ${fmt(series.baseline)}`) : null,
    series.threshold !== null ? h("span", {}, h("i", { style: "border-color: var(--red)" }),
      `fires ${series.direction} ${fmt(series.threshold)}`) : null,
    h("span", {}, h("i", { style: "border-color: var(--amber); border-top-style: solid" }), `fired ${when(series.fired_at)}`),
  );
}

// A button that calls the API, shows the answer in `out`, and refreshes the view when it worked.
export function actionButton(text, call, out, ctx, { primary = false, hint = null } = {}) {
  const readonly = !ctx.canOperate;
  return h("button", {
    type: "button", class: primary ? "primary" : null, disabled: readonly,
    title: readonly ? "read-only: your key has no operate scope" : hint,
    onclick: async (ev) => {
      const button = ev.currentTarget;
      button.disabled = true;
      say(ctx, out, "", "…");
      try {
        await call();
        // Sent: reset the form now, so no live redraw that starts before ours keeps it.
        button.closest(".panel")?.querySelectorAll(FIELDS).forEach(resetField);
        say(ctx, out, "ok", `${text}: done`);
        await ctx.refresh();
      } catch (err) {
        say(ctx, out, "error", err.explain ? err.explain() : String(err));
        button.disabled = false;
      }
    },
  }, text);
}

// What a button did stays said for a while: a live redraw can replace `out` while the call
// is under way (the answer then goes to the element that took its place), and the redraws
// that follow show it again (app.js), a refusal as much as a success.
function say(ctx, out, cls, text) {
  ctx.said = { id: out.id, cls, text, hash: location.hash, until: Date.now() + 15000 };
  const shown = out.isConnected ? out : document.getElementById(out.id);
  if (shown) Object.assign(shown, { className: `result ${cls}`.trim(), textContent: text });
}

export function readonlyNote(ctx) {
  return ctx.canOperate ? null : h("p", { class: "readonly-note", id: "readonly-note" },
    `Read-only: the key of ${ctx.me.name} has ${ctx.me.scopes.join(", ")}; acting needs operate.`);
}

function actions(workflow, base, ctx) {
  const out = h("p", { class: "result", id: "action-result", role: "status", "aria-live": "polite" });
  const comment = h("textarea", { id: "comment", placeholder: "comment for the timeline (optional; the post-mortem's text)",
                                  "aria-label": "comment", maxlength: 2000 });
  const allowed = new Set(workflow.allowed);
  const body = () => (comment.value.trim() ? { comment: comment.value.trim() } : {});
  return h("div", { class: "panel" },
    readonlyNote(ctx),
    comment,
    h("div", { class: "actions" }, MOVES.map(([move, text]) => actionButton(text,
      () => api("POST", `${base}/${move}`, body()), out, ctx,
      { primary: allowed.has(move), hint: allowed.has(move) ? null : `not allowed from ${workflow.alert.status}: the service will say why` }))),
    out,
  );
}

function roles(workflow, base, ctx) {
  const out = h("p", { class: "result", id: "role-result", role: "status", "aria-live": "polite" });
  const held = new Map(workflow.roles.filter((r) => !r.renounced_at).map((r) => [r.role, r]));
  const select = h("select", { id: "role-select", "aria-label": "role" }, ROLES.map((r) => h("option", { value: r }, label(r))));
  const name = h("input", { id: "role-name", placeholder: "who takes it", "aria-label": "name", maxlength: 200,
                            value: ctx.me.name });
  return h("div", { class: "panel" },
    h("table", { id: "roles-table" }, h("tbody", {}, ROLES.map((role) => {
      const tenure = held.get(role);
      return h("tr", { "data-role": role },
        h("th", {}, label(role)),
        h("td", {}, tenure ? `${tenure.name}` : h("span", { class: "muted" }, "nobody")),
        h("td", { class: "muted" }, tenure ? `since ${when(tenure.assumed_at)}, named by ${tenure.assumed_by}` : ""),
        h("td", {}, tenure ? actionButton("Release", () => api("DELETE", `${base}/roles/${role}`, {}), out, ctx) : null));
    }))),
    h("div", { class: "role-form" }, select, name,
      actionButton("Assign", () => api("PUT", `${base}/roles/${select.value}`, { name: name.value.trim() }), out, ctx)),
    out,
  );
}

function stages(workflow) {
  const reached = new Map(workflow.stages.map((s) => [s.stage, s]));
  return h("ol", { class: "stages", id: "stages" }, STAGES.map((stage, i) => {
    const s = reached.get(stage);
    return h("li", { class: s ? "reached" : null, "data-stage": stage },
      h("strong", {}, `${i + 1}. ${label(stage)}`), h("br"),
      s ? h("span", { class: "muted" }, `${when(s.reached_at)} · ${s.owner}`) : h("span", { class: "muted" }, "not reached"));
  }));
}

function evidence(values) {
  return h("dl", { class: "evidence", id: "evidence" }, Object.entries(values).flatMap(([key, value]) => [
    h("dt", {}, label(key)),
    h("dd", {}, typeof value === "number" ? fmt(value) : typeof value === "string" ? value : JSON.stringify(value)),
  ]));
}

function entry(e) {
  const details = Object.entries(e.details || {}).filter(([k]) => !["version"].includes(k))
    .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
  return h("li", {}, h("span", { class: "mono muted" }, when(e.at)), " ", h("strong", {}, e.event),
    e.actor ? ` by ${e.actor}` : "", details ? h("span", { class: "muted" }, ` (${details})`) : "",
    e.comment ? h("div", {}, `“${e.comment}”`) : "");
}

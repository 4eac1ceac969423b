// Entities: every monitored entity, a sparkline per signal and its state; searchable.
import { get } from "./api.js";
import { sparkline } from "./chart.js";
import { badge, h } from "./dom.js";

let search = "";

export async function load() {
  const query = new URLSearchParams({ limit: "200" });
  if (search) query.set("search", search);
  return get(`/v1/entities?${query}`);
}

export function render(root, page, refresh) {
  const input = h("input", { type: "search", id: "entity-search", placeholder: "search entities", value: search,
                             "aria-label": "search entities" });
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { search = input.value.trim(); refresh(); }, 250);
  });
  root.replaceChildren(
    h("h1", {}, "Entities ", h("span", { class: "muted" }, `${page.total} monitored`)),
    h("div", { class: "search" }, input),
    h("table", { id: "entities-table" },
      h("thead", {}, h("tr", {}, ["Entity", "State", "Signals"].map((t) => h("th", {}, t)))),
      h("tbody", {}, page.items.map((e) => h("tr", { "data-entity": e.entity },
        h("td", {}, e.entity),
        h("td", {}, badge(e.state, `state-${e.state}`)),
        h("td", {}, h("div", { class: "facts" }, e.signals.map((sig) => h("span", { class: `state-${sig.state}` },
          sig.alert_ids.length ? h("a", { href: `#/alert/${encodeURIComponent(sig.alert_ids[0])}` }, sig.signal) : sig.signal,
          " ", sparkline(sig.recent, `${sig.signal} of ${e.entity}`)))))),
      ))),
  );
  if (search) { input.focus(); input.setSelectionRange(search.length, search.length); }
}

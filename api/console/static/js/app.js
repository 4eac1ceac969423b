// The console: sign-in, the router between views, the live stream and the ticking clocks.
import { ApiError, clearKey, get, getKey, setKey } from "./api.js";
import * as alertView from "./alert.js";
import * as clock from "./clock.js";
import * as crisisView from "./crisis.js";
import * as entitiesView from "./entities.js";
import * as nowView from "./now.js";
import { FIELDS, fieldValue, h, setFieldValue } from "./dom.js";
import { connect } from "./stream.js";

const $ = (id) => document.getElementById(id);
// After a change the view redraws keeping what is typed elsewhere on it (the button reset the
// form it sent): a post-mortem written while the crisis is resolved survives the resolve.
const ctx = { me: null, canOperate: false, refresh: () => show() };
const fresh = new Set();  // alerts raised since the page loaded: their rows flash once
let stopStream = null;
let refreshTimer = null;
let shownHash = null;  // the route the view shows
let generation = 0;  // of redraws: only the latest one started may draw

function route() {
  const [, view = "now", id] = location.hash.split("/").map(decodeURIComponent);
  return { view, id };
}

async function show() {
  const { view, id } = route();
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("current", a.dataset.view === view));
  const main = $("view");
  const mine = ++generation;
  try {
    const views = { alert: alertView, crisis: crisisView, entities: entitiesView, now: nowView };
    const module = views[view] || nowView;
    const data = await module.load(id);
    if (mine !== generation) return;  // a later redraw started meanwhile: it shows newer state
    // A live redraw of the same view keeps what the operator has typed but not sent yet, read
    // only now: anything typed while the data was loading is kept too.
    const kept = location.hash === shownHash ? [...main.querySelectorAll(FIELDS)].map((el) => [el.id, fieldValue(el)]) : [];
    const focused = location.hash === shownHash ? focusOf(main) : null;
    module.render(main, data, view === "now" ? fresh : view === "entities" ? show : ctx);
    for (const [id, value] of kept) { const el = document.getElementById(id); if (el) setFieldValue(el, value); }
    if (focused) refocus(main, focused);
    // What the last button did stays said for a while, through the live redraws that follow it.
    const said = ctx.said && ctx.said.hash === location.hash && Date.now() < ctx.said.until
      && document.getElementById(ctx.said.id);
    if (said) Object.assign(said, { className: `result ${ctx.said.cls}`.trim(), textContent: ctx.said.text });
    shownHash = location.hash;
    main.dataset.loaded = view;
    hideBanner();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;  // the sign-in dialog takes over
    main.replaceChildren(h("p", { class: "error", id: "view-error" }, err.explain ? err.explain() : String(err)));
  }
}

// A live redraw keeps the keyboard focus where it was: someone working without a mouse
// would otherwise be sent back to the top of the page by every update.
function focusOf(main) {
  const el = document.activeElement;
  if (!el || el === main || !main.contains(el)) return null;
  return el.id ? { id: el.id } : { tag: el.tagName, text: el.textContent };
}

function refocus(main, was) {
  const el = was.id ? document.getElementById(was.id)
    : [...main.querySelectorAll(was.tag)].find((e) => e.textContent === was.text);
  if (el) el.focus({ preventScroll: true });
}

// Live updates arrive in bursts (a batch raises several alerts): redraw once per burst, and
// not while the operator is filling in a form of the alert or crisis view (it would be lost).
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    const typing = ["alert", "crisis"].includes(route().view) && document.activeElement
      && ["TEXTAREA", "INPUT", "SELECT"].includes(document.activeElement.tagName);
    if (typing) refreshSoon(); else show();
  }, 400);
}

function onEvent(event, data) {
  if (event === "hello" || event === "resync") {
    clock.sync().catch(() => {});
    refreshSoon();
    return;
  }
  if (event === "alert") {
    if (data.reason === "raised") fresh.add(data.alert.id);
    if (data.alert.severity === "severe" && ["raised", "severity_raised"].includes(data.reason)) alarm(data.alert);
  } else if (event === "notice") {
    addNotice(data);
  }
  refreshSoon();
}

function addNotice(n) {
  const list = $("notices");
  if (list.querySelector(".muted")) list.replaceChildren();
  list.prepend(h("li", { "data-type": n.type },
    h("strong", {}, n.type.replace("alert.", "")), ` ${n.entity} · `,
    h("a", { href: `#/alert/${encodeURIComponent(n.alert_id)}` }, "open"), h("br"),
    h("span", { class: "muted" }, n.reason)));
  while (list.children.length > 30) list.lastChild.remove();
}

// The optional alarm: a short beep (Web Audio, no sound file) and the tab title flashing for
// about 15 s, or until the operator is back (focuses the tab, clicks or types). Having the
// focus does not stop it: a wall screen keeps the focus while nobody is looking at it.
const TITLE = document.title;
const BACK = ["focus", "pointerdown", "keydown"];
let stopFlash = () => {};
function alarm(alert) {
  if (!$("alarm-toggle").checked) return;
  try {
    const audio = new AudioContext(), osc = audio.createOscillator(), gain = audio.createGain();
    osc.frequency.value = 880; gain.gain.value = 0.2;
    osc.connect(gain).connect(audio.destination);
    osc.start(); osc.stop(audio.currentTime + 0.4);
  } catch { /* no audio device: the title still flashes */ }
  stopFlash();
  let on = false, count = 0;
  const timer = setInterval(() => {
    document.title = (on = !on) ? `(!) SEVERE ${alert.entity}` : TITLE;
    if (++count >= 20) stop();
  }, 700);
  function stop() {
    clearInterval(timer);
    document.title = TITLE;
    BACK.forEach((name) => window.removeEventListener(name, stop, true));
    stopFlash = () => {};
  }
  BACK.forEach((name) => window.addEventListener(name, stop, true));
  stopFlash = stop;
}

function onStreamState(state, detail) {
  const live = $("live");
  live.className = `live ${state === "up" ? "up" : "down"}`;
  live.textContent = state === "up" ? "live" : detail || state;
}

function tick() {
  const at = clock.now();
  document.querySelectorAll("[data-countdown]").forEach((el) => {
    const c = clock.countdown({ status: el.dataset.status, raised_at: el.dataset.raised, response_due_at: el.dataset.due }, at);
    el.textContent = c.text;
    el.className = `countdown ${c.cls}`;
  });
}

function banner(text) { const b = $("banner"); b.textContent = text; b.hidden = false; }
function hideBanner() { $("banner").hidden = true; }

async function signIn() {
  try {
    const me = await get("/v1/me");
    ctx.me = me;
    ctx.canOperate = me.scopes.includes("operate");
    $("whoami").textContent = `${me.name} · ${ctx.canOperate ? "operate" : "read-only"}`;
    $("sign-out").hidden = !getKey();
    await clock.sync();
    if (stopStream) stopStream();
    stopStream = connect({ onEvent, onState: onStreamState });
    await show();
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      askForKey(err.explain());
    } else {
      banner(err.explain ? err.explain() : String(err));
      setTimeout(signIn, 3000);  // the service is starting or restarting
    }
  }
}

function askForKey(message) {
  const dialog = $("sign-in");
  $("sign-in-error").textContent = getKey() ? message : "";
  if (!dialog.open) dialog.showModal();
  $("key-input").focus();
}

function init() {
  $("sign-in-form").addEventListener("submit", () => { setKey($("key-input").value.trim()); $("key-input").value = ""; signIn(); });
  $("sign-out").addEventListener("click", () => { clearKey(); if (stopStream) stopStream(); location.reload(); });
  document.addEventListener("tocsin:unauthenticated", () => askForKey("the key was refused (401): sign in again"));
  $("alarm-toggle").checked = sessionStorage.getItem("tocsin.alarm") === "on";
  $("alarm-toggle").addEventListener("change", (e) => sessionStorage.setItem("tocsin.alarm", e.target.checked ? "on" : "off"));
  window.addEventListener("hashchange", () => { show(); $("view").focus(); });
  setInterval(tick, 1000);
  signIn();
}

init();

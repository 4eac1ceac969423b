// Building DOM without innerHTML: entity names, comments and messages come from outside,
// so text always goes in as text.
const SVG = "http://www.w3.org/2000/svg";

function build(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
export const s = (tag, attrs, ...children) => build(document.createElementNS(SVG, tag), attrs, children);

export function badge(text, cls) { return h("span", { class: `badge ${cls}` }, text); }
export const severityBadge = (severity) => badge(severity, `sev-${severity}`);

// The form fields a redraw carries over (anything with an id the operator can change), and
// their value: a checkbox's is whether it is ticked.
export const FIELDS = "textarea[id], select[id], input[id]:not([type=search])";
const ticks = (el) => el.type === "checkbox" || el.type === "radio";
export const fieldValue = (el) => (ticks(el) ? el.checked : el.value);
export function setFieldValue(el, value) { if (ticks(el)) el.checked = value; else el.value = value; }

// Back to what the page drew (a role's name field holds the operator's own name).
export function resetField(el) {
  if (ticks(el)) el.checked = el.defaultChecked;
  else if (el.tagName === "SELECT") el.selectedIndex = Math.max(0, [...el.options].findIndex((o) => o.defaultSelected));
  else el.value = el.defaultValue;
}

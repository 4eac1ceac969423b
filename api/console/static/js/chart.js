// SVG charts of our own: an alert's series with its baseline, threshold band and firing
// moment, and the entity list's sparklines. No library: a few dozen lines do it.
import { s } from "./dom.js";
import { epoch, when } from "./clock.js";

const W = 760, H = 260, PAD = { left: 52, right: 14, top: 14, bottom: 28 };

export function seriesChart(series) {
  const points = series.buckets.filter((b) => b.value !== null).map((b) => [epoch(b.start), b.value]);
  const fired = epoch(series.fired_at);
  const times = points.map((p) => p[0]).concat([fired]);
  const values = points.map((p) => p[1]);
  for (const level of [series.baseline, series.threshold]) if (level !== null) values.push(level);
  const t0 = Math.min(...times), t1 = Math.max(...times, t0 + series.bucket_seconds);
  let v0 = Math.min(0, ...values), v1 = Math.max(...values, 1);
  if (series.signal === "satisfaction" || v0 > 0) v0 = Math.min(...values) * 0.97;  // a mean: zoom in on its range
  v1 += (v1 - v0) * 0.08;
  const x = (t) => PAD.left + ((t - t0) / (t1 - t0 || 1)) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - ((v - v0) / (v1 - v0 || 1)) * (H - PAD.top - PAD.bottom);

  const parts = [
    s("line", { class: "axis", x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom }),
    s("line", { class: "axis", x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom }),
    s("text", { x: PAD.left - 6, y: y(v1) + 12, "text-anchor": "end" }, fmt(v1)),
    s("text", { x: PAD.left - 6, y: y(v0), "text-anchor": "end" }, fmt(v0)),
    s("text", { x: PAD.left, y: H - 8 }, when(new Date(t0 * 1000).toISOString())),
    s("text", { x: W - PAD.right, y: H - 8, "text-anchor": "end" }, when(new Date(t1 * 1000).toISOString())),
  ];
  if (series.threshold !== null) {
    // The band is where the rule fires: beyond the threshold, on the side it watches.
    const edge = series.direction === "below" ? v0 : v1;
    const top = Math.min(y(series.threshold), y(edge)), bottom = Math.max(y(series.threshold), y(edge));
    parts.push(s("rect", { class: "band", "data-role": "threshold-band", x: PAD.left, y: top,
                           width: W - PAD.left - PAD.right, height: bottom - top }));
    parts.push(s("line", { class: "threshold", "data-role": "threshold", x1: PAD.left, x2: W - PAD.right,
                           y1: y(series.threshold), y2: y(series.threshold) }));
  }
  if (series.baseline !== null) {
    parts.push(s("line", { class: "baseline", "data-role": "baseline", x1: PAD.left, x2: W - PAD.right,
                           y1: y(series.baseline), y2: y(series.baseline) }));
  }
  if (points.length) {
    parts.push(s("polyline", { class: "series", "data-role": "series",
                               points: points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ") }));
  }
  parts.push(s("line", { class: "fired", "data-role": "fired", x1: x(fired), x2: x(fired), y1: PAD.top, y2: H - PAD.bottom }));
  parts.push(s("text", { class: "label-fired", x: Math.min(x(fired) + 4, W - 60), y: PAD.top + 12 }, "fired"));
  return s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img",
                    "aria-label": `${series.signal} of ${series.entity}: ${points.length} buckets, fired ${when(series.fired_at)}` },
           ...parts);
}

export function sparkline(values, label) {
  const w = 120, h = 28;
  const known = values.map((v, i) => [i, v]).filter(([, v]) => v !== null);
  if (known.length < 2) return s("svg", { class: "spark", viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": `${label}: no data` });
  const vs = known.map(([, v]) => v), lo = Math.min(...vs), hi = Math.max(...vs);
  const pts = known.map(([i, v]) => `${((i / (values.length - 1)) * w).toFixed(1)},${(h - 2 - ((v - lo) / (hi - lo || 1)) * (h - 4)).toFixed(1)}`);
  return s("svg", { class: "spark", viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": `${label}: ${fmt(lo)} to ${fmt(hi)}` },
           s("polyline", { points: pts.join(" ") }));
}

export function fmt(v) {
  if (typeof v !== "number") return String(v);
  if (Math.abs(v) >= 1000) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toPrecision(3).replace(/\.?0+$/, "");
}

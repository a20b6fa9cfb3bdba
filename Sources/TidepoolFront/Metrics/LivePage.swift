/// `GET /_tidepool/`: the live page. Self-contained HTML, CSS and JS (no
/// external scripts or fonts: it works offline). It polls `/_tidepool/metrics`
/// and `/_tidepool/status` every second and draws the last five minutes as
/// hand-written SVG: requests/s, instances by state, in flight and queued,
/// p50/p99 latency (from the histogram's bucket deltas), cold starts; plus the
/// instance table. Script errors are shown in `#errors` (the tests read it).
enum LivePage {
    static let html = #"""
<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tidepool · live</title>
<style>
:root { --fg:#1d2330; --muted:#6b7385; --bg:#f6f7fa; --card:#fff; --line:#e3e6ee; }
* { box-sizing:border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header { padding:14px 20px; display:flex; gap:16px; align-items:baseline; border-bottom:1px solid var(--line); background:var(--card); }
header h1 { font-size:18px; margin:0; }
header span { color:var(--muted); }
main { padding:16px 20px; display:grid; grid-template-columns:repeat(auto-fill, minmax(420px, 1fr)); gap:14px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 12px; }
section h2 { font-size:13px; margin:0 0 6px; color:var(--muted); font-weight:600; text-transform:uppercase; letter-spacing:.04em; }
svg.chart { width:100%; height:150px; display:block; }
.legend { display:flex; gap:12px; font-size:12px; color:var(--muted); }
.legend i { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:4px; vertical-align:-1px; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:right; padding:4px 8px; border-bottom:1px solid var(--line); white-space:nowrap; }
th:first-child, td:first-child { text-align:left; }
#instances-card { grid-column:1 / -1; }
#errors { color:#b3261e; white-space:pre-wrap; }
</style></head>
<body>
<header><h1>Tidepool</h1><span id="summary">connecting…</span></header>
<div id="errors"></div>
<main>
<section><h2>Requests / s</h2><svg class="chart" id="chart-rps"></svg></section>
<section><h2>Instances by state</h2><svg class="chart" id="chart-instances"></svg><div class="legend" id="legend-instances"></div></section>
<section><h2>In flight and queued</h2><svg class="chart" id="chart-load"></svg><div class="legend" id="legend-load"></div></section>
<section><h2>Latency p50 / p99 (ms)</h2><svg class="chart" id="chart-latency"></svg><div class="legend" id="legend-latency"></div></section>
<section><h2>Cold starts / s</h2><svg class="chart" id="chart-cold"></svg></section>
<section id="instances-card"><h2>Instances</h2>
<table><thead><tr><th>id</th><th>pid</th><th>state</th><th>in flight</th><th>slots</th><th>served</th><th>why</th><th>start</th><th>start ms</th><th>RSS MB</th></tr></thead>
<tbody id="instance-rows"></tbody></table></section>
</main>
<script>
"use strict";
const WINDOW = 300, SVGNS = "http://www.w3.org/2000/svg";
const COLORS = { starting:"#e0a030", idle:"#4c9a5a", busy:"#2f6fd6", draining:"#9a4cc0",
  rps:"#2f6fd6", inflight:"#2f6fd6", queued:"#d0503a", p50:"#4c9a5a", p99:"#d0503a", cold:"#9a4cc0" };
const history = [];
let previous = null;

window.addEventListener("error", e => showError(e.message));
window.addEventListener("unhandledrejection", e => showError(String(e.reason)));
function showError(text) { document.getElementById("errors").textContent = "error: " + text; }

/** Parses Prometheus text: [{name, labels, value}]. */
function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const part of m[3].matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[part[1]] = part[2];
    samples.push({ name: m[1], labels, value: parseFloat(m[4]) });
  }
  return samples;
}
const sum = (s, name, pred) => s.filter(x => x.name === name && (!pred || pred(x.labels))).reduce((a, x) => a + x.value, 0);
function buckets(s, name) {
  return s.filter(x => x.name === name + "_bucket")
    .map(x => ({ le: x.labels.le === "+Inf" ? Infinity : parseFloat(x.labels.le), count: x.value }))
    .sort((a, b) => a.le - b.le);
}
/** The q-quantile of the observations between two cumulative bucket snapshots (linear within a bucket). */
function quantile(q, now, before) {
  const delta = now.map((b, i) => ({ le: b.le, count: b.count - (before && before[i] ? before[i].count : 0) }));
  const total = delta.length ? delta[delta.length - 1].count : 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lowerLe = 0, lowerCount = 0;
  for (const b of delta) {
    if (b.count >= rank) {
      if (b.le === Infinity) return lowerLe;
      const inBucket = b.count - lowerCount;
      return inBucket > 0 ? lowerLe + (b.le - lowerLe) * (rank - lowerCount) / inBucket : b.le;
    }
    lowerLe = b.le; lowerCount = b.count;
  }
  return lowerLe;
}

function sample(metricsText, status) {
  const s = parseMetrics(metricsText), t = Date.now() / 1000;
  const point = { t,
    requests: sum(s, "tidepool_requests_total"), cold: sum(s, "tidepool_cold_starts_total"),
    buckets: buckets(s, "tidepool_request_duration_seconds"),
    inflight: sum(s, "tidepool_requests_in_flight"), queued: sum(s, "tidepool_requests_queued"), states: {} };
  for (const st of ["starting", "idle", "busy", "draining"]) point.states[st] = sum(s, "tidepool_instances", l => l.state === st);
  if (previous) {
    const dt = Math.max(0.001, t - previous.t);
    point.rps = Math.max(0, (point.requests - previous.requests) / dt);
    point.coldRate = Math.max(0, (point.cold - previous.cold) / dt);
    const p50 = quantile(0.5, point.buckets, previous.buckets), p99 = quantile(0.99, point.buckets, previous.buckets);
    point.p50 = p50 === null ? null : p50 * 1000; point.p99 = p99 === null ? null : p99 * 1000;
    history.push(point);
    while (history.length && history[0].t < t - WINDOW) history.shift();
  }
  previous = point;
  render(status);
}

function chart(id, series) {
  // Drawn in the element's own pixels, so lines and labels are never stretched.
  const svg = document.getElementById(id), w = Math.max(200, svg.clientWidth || 400), h = 150, pad = 36;
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const now = Date.now() / 1000;
  // The time axis grows with the history: one minute at first, then up to WINDOW.
  const span = Math.min(WINDOW, Math.max(60, history.length ? now - history[0].t : 0));
  let max = 1;
  for (const s of series) for (const p of history) { const v = s.value(p); if (v !== null && v > max) max = v; }
  const x = t => pad + (w - pad - 4) * (1 - (now - t) / span), y = v => h - 16 - (h - 24) * v / max;
  const axis = document.createElementNS(SVGNS, "path");
  axis.setAttribute("d", `M${pad} 8V${h - 16}H${w - 4}`); axis.setAttribute("stroke", "#c9ceda"); axis.setAttribute("fill", "none");
  axis.setAttribute("class", "axis"); svg.appendChild(axis);
  for (const [text, xx, yy, anchor] of [[fmt(max), pad - 4, 12, "end"], ["0", pad - 4, h - 16, "end"],
                                        [`-${Math.round(span)} s`, pad, h - 3, "start"], ["now", w - 4, h - 3, "end"]]) {
    const label = document.createElementNS(SVGNS, "text");
    label.setAttribute("x", xx); label.setAttribute("y", yy); label.setAttribute("text-anchor", anchor); label.setAttribute("font-size", "10"); label.setAttribute("fill", "#6b7385");
    label.textContent = text; svg.appendChild(label);
  }
  for (const s of series) {
    let d = "", pen = "M";
    for (const p of history) {
      const v = s.value(p);
      if (v === null || v === undefined) { pen = "M"; continue; }
      d += `${pen}${x(p.t).toFixed(1)} ${y(v).toFixed(1)}`; pen = "L";
    }
    if (!d) continue;
    const path = document.createElementNS(SVGNS, "path");
    path.setAttribute("d", d); path.setAttribute("stroke", s.color); path.setAttribute("fill", "none");
    path.setAttribute("stroke-width", "1.6"); path.setAttribute("class", "series"); path.setAttribute("data-series", s.name);
    svg.appendChild(path);
  }
}
function legend(id, names) {
  document.getElementById(id).innerHTML = names.map(n => `<span><i style="background:${COLORS[n]}"></i>${n}</span>`).join("");
}
function fmt(v) { return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2); }
const text = v => v === null || v === undefined ? "–" : String(v);

function render(status) {
  chart("chart-rps", [{ name: "rps", color: COLORS.rps, value: p => p.rps }]);
  const states = ["starting", "idle", "busy", "draining"];
  chart("chart-instances", states.map(st => ({ name: st, color: COLORS[st], value: p => p.states[st] })));
  legend("legend-instances", states);
  chart("chart-load", [{ name: "inflight", color: COLORS.inflight, value: p => p.inflight }, { name: "queued", color: COLORS.queued, value: p => p.queued }]);
  legend("legend-load", ["inflight", "queued"]);
  chart("chart-latency", [{ name: "p50", color: COLORS.p50, value: p => p.p50 }, { name: "p99", color: COLORS.p99, value: p => p.p99 }]);
  legend("legend-latency", ["p50", "p99"]);
  chart("chart-cold", [{ name: "cold", color: COLORS.cold, value: p => p.coldRate }]);
  const last = history[history.length - 1];
  if (status) {
    document.getElementById("summary").textContent =
      `${status.phase} · ${(status.instances || []).length} instances · up ${Math.round(status.uptimeSeconds || 0)} s` +
      (last ? ` · ${fmt(last.rps || 0)} req/s` : "");
    const rows = document.getElementById("instance-rows");
    rows.innerHTML = "";
    for (const i of status.instances || []) {
      const tr = document.createElement("tr");
      const rss = i.rssBytes === null || i.rssBytes === undefined ? null : (i.rssBytes / 1e6).toFixed(1);
      const ms = i.startMillis === null || i.startMillis === undefined ? null : Number(i.startMillis).toFixed(1);
      const state = i.activity || i.state;  // the scheduler's word: starting, idle, busy, draining
      const why = i.drainReason ? `drain: ${i.drainReason}` : (i.startReason ? `start: ${i.startReason}` : null);
      const slots = i.slotLimit === undefined ? null : `${i.slotLimit}${i.saturated ? " (saturated)" : ""}`;
      for (const v of [i.id, i.pid, state, i.inFlight, slots, i.served, why, i.startKind, ms, rss]) {
        const td = document.createElement("td"); td.textContent = text(v); tr.appendChild(td);
      }
      rows.appendChild(tr);
    }
  }
}

async function poll() {
  try {
    const [m, s] = await Promise.all([fetch("/_tidepool/metrics", { cache: "no-store" }), fetch("/_tidepool/status", { cache: "no-store" })]);
    if (!m.ok || !s.ok) throw new Error(`metrics ${m.status}, status ${s.status}`);
    sample(await m.text(), await s.json());
    document.getElementById("errors").textContent = "";
  } catch (e) {
    showError("poll failed: " + e.message);
  } finally {
    setTimeout(poll, 1000);
  }
}
poll();
</script>
</body></html>
"""#
}

// nbapipe dashboard: polls the read-only JSON API and redraws in place (no reload, no
// library, nothing fetched from elsewhere). Every value shown comes from /api/*.
"use strict";

const POLL_MS = 2500;          // progress, runs and cells
const SLOW_EVERY = 3;          // orchestrator and failures: every third poll
const ORCH_ROWS = 30;
const LABEL_PX = 270;          // the table names left of the cells (index.html .hlabel)

const state = { season: null, seasons: [], legend: {}, labels: {}, cells: new Map(), built: null,
                units: new Map(), procs: {}, pinned: null, polls: 0 };

// --- small DOM helpers -----------------------------------------------------------------------
function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k === "style") e.style.cssText = v; else e.setAttribute(k, v);
  }
  for (const k of kids.flat(Infinity)) e.append(k instanceof Node ? k : document.createTextNode(k == null ? "" : String(k)));
  return e;
}
const $ = (id) => document.getElementById(id);
function table(head, rows) {
  return h("table", {}, h("tr", {}, head.map(([t, cls]) => h("th", { class: cls || "" }, t))),
           rows.map((r) => h("tr", {}, r.map((c, i) => h("td", { class: head[i][1] || "" }, c)))));
}
const clip = (s, n) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const fmt = (n) => (n == null ? "-" : Number(n).toLocaleString("en-US"));
function secs(s) {
  if (s == null) return "-";
  if (s < 90) return `${Math.round(s)}s`;
  if (s < 5400) return `${Math.round(s / 60)}min`;
  return `${(s / 3600).toFixed(1)}h`;
}

async function getJSON(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${path}: ${r.status} ${body.error || r.statusText}`);
  return body;
}

// --- season scope ----------------------------------------------------------------------------
function scope() {
  const s = state.seasons.find((x) => x.season === state.season);
  return s ? `start=${s.first_game_date}&end=${s.last_game_date}` : "";
}

function initSeasons(summary) {
  state.seasons = summary.calendar;
  for (const l of summary.legend) { state.legend[l.status] = l.colour; state.labels[l.status] = l.label; }
  const wanted = decodeURIComponent(location.hash.slice(1));
  // Default: the first season a run in progress covers, else the season the ledger recorded
  // last (the newest season may be all "not run yet"), else the latest season.
  const run = summary.runs[summary.runs.length - 1];
  const byRun = run && state.seasons.find((s) => s.first_game_date <= run.end_date && run.start_date <= s.last_game_date);
  const byActivity = state.seasons.find((s) => s.season === summary.latest_activity_season);
  const last = state.seasons[state.seasons.length - 1];
  state.season = (state.seasons.find((s) => s.season === wanted) || byRun || byActivity || last || {}).season || null;
  const sel = $("season");
  sel.replaceChildren(...state.seasons.map((s) => h("option", { value: s.season }, s.season)));
  sel.value = state.season;
  sel.addEventListener("change", () => { state.season = sel.value; location.hash = sel.value; state.built = null; poll(true); });
  $("legend").replaceChildren(...summary.legend.map((l) =>
    h("span", { "data-legend": l.status }, h("i", { style: `background:${l.colour}` }), l.label)));
}

// --- heatmap ---------------------------------------------------------------------------------
function buildHeatmap(data) {
  const dates = [...new Set(data.units.map((u) => u.date))].sort();
  const months = [];
  for (const d of dates) {
    const m = d.slice(0, 7);
    if (!months.length || months[months.length - 1].m !== m) months.push({ m, n: 0 });
    months[months.length - 1].n += 1;
  }
  // Cells as wide as fit the window (2..12 px), so a whole season shows without scrolling.
  const hm = $("heatmap");
  const cellW = Math.max(2, Math.min(12, Math.floor((hm.clientWidth - LABEL_PX - 20) / Math.max(dates.length, 1)) - 1));
  hm.style.setProperty("--cell-w", `${cellW}px`);
  const ruler = h("div", { class: "months" }, months.map((x) =>
    h("span", { style: `width:${x.n * (cellW + 1)}px`, title: x.m }, x.n * (cellW + 1) >= 48 ? x.m : "")));
  const box = [ruler];
  state.cells = new Map();
  state.procs = {};
  let phase = null;
  for (const p of data.processors) {
    state.procs[p.processor] = p;
    if (p.phase !== phase) { phase = p.phase; box.push(h("div", { class: "phase" }, `Phase ${phase}`)); }
    const cells = dates.map((d) => {
      const c = h("div", { class: "cell", "data-processor": p.processor, "data-date": d });
      state.cells.set(`${p.processor}|${d}`, c);
      return c;
    });
    box.push(h("div", { class: "hrow", "data-table": p.table },
               h("span", { class: "hlabel", title: p.table }, p.table), h("div", { class: "cells" }, cells)));
  }
  hm.replaceChildren(...box);
  hm.onmouseover = (ev) => { if (ev.target.classList.contains("cell") && !state.pinned) showUnit(ev.target); };
  hm.onclick = (ev) => {
    if (!ev.target.classList.contains("cell")) return;
    if (state.pinned) state.pinned.classList.remove("pinned");
    state.pinned = state.pinned === ev.target ? null : ev.target;
    if (state.pinned) state.pinned.classList.add("pinned");
    showUnit(ev.target);
  };
  state.built = `${state.season}|${data.start}|${data.end}`;
}

function paintHeatmap(data) {
  if (state.built !== `${state.season}|${data.start}|${data.end}`) buildHeatmap(data);
  state.units = new Map();
  for (const u of data.units) {
    const key = `${u.processor}|${u.date}`;
    state.units.set(key, u);
    const c = state.cells.get(key);
    if (c && c.dataset.status !== u.status) {
      c.dataset.status = u.status;
      c.style.backgroundColor = state.legend[u.status] || "#fff";
    }
  }
  if (state.pinned) showUnit(state.pinned);
}

function showUnit(cell) {
  const u = state.units.get(`${cell.dataset.processor}|${cell.dataset.date}`);
  if (!u) return;
  const p = state.procs[u.processor] || {};
  const items = [["unit", `${u.processor} · ${u.date}`], ["table", `${p.table} (phase ${u.phase})`],
                 ["status", state.labels[u.status] || u.status]];
  if (u.live) items.push(["in progress", u.live.run_id ? `run ${u.live.run_id} (${u.live.command})` : `${u.live.worker}: ${u.live.why}`]);
  const l = u.ledger;
  if (l) {
    if (u.ledger_status !== u.status) items.push(["last recorded", u.ledger_status]);
    items.push(["rows", fmt(l.rows)], ["expected entities", fmt(l.expected)], ["source", l.source_used || "-"], ["duration", l.duration_s != null ? `${l.duration_s.toFixed(3)}s` : "-"]);
    if (l.error) items.push(["error", l.error]);
    if (l.detail) items.push(["detail", l.detail]);
    if (l.missing_inputs) items.push(["missing inputs", Object.entries(l.missing_inputs)
      .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`).join("\n")]);
    items.push(["run", l.run_id], ["finished", l.finished_at]);
  } else {
    items.push(["ledger", u.game_date ? "no entry yet" : "no entry (no game that date)"]);
  }
  $("detail").replaceChildren(h("dl", { id: "unit-detail", "data-processor": u.processor, "data-date": u.date },
    items.map(([k, v]) => [h("dt", {}, k), h("dd", { class: k === "error" ? "fail" : "" }, v)])));
}

// --- progress, runs, leases --------------------------------------------------------------------
function paintSummary(s) {
  $("scope").textContent = `${state.season || ""} ${s.start_date}..${s.end_date}: ${s.game_dates} game dates, ` +
    `${s.no_game_dates} without games, ${s.bootstrap_dates} bootstrap dates`;
  const head = [["phase / table", "l"], ["done", ""], ["expected", ""], ["%", ""], ["", "l"], ["partial", ""],
                ["degraded", ""], ["upstream missing", ""], ["stale", ""], ["failed", ""], ["not run", ""], ["in progress", ""], ["bootstrap", ""], ["rows", ""]];
  const row = (label, p, live, attrs) => {
    const pct = p.pct == null ? 0 : p.pct;
    const tr = h("tr", attrs, [label, fmt(p.done), fmt(p.expected), p.pct == null ? "-" : p.pct.toFixed(1),
      h("span", { class: "bar" }, h("span", { style: `width:${pct}%` })), fmt(p.partial), fmt(p.degraded), fmt(p.upstream_missing),
      fmt(p.stale), fmt(p.failed), fmt(p.not_run), live ? fmt(live) : "", fmt(p.bootstrap), fmt(p.rows)]
      .map((c, i) => h("td", { class: head[i][1] }, c)));
    return tr;
  };
  // "in progress": cells of this season shown running or waiting (from /api/units).
  const live = {};
  for (const u of state.units.values()) {
    if (u.status === "running" || u.status === "waiting") {
      live[u.processor] = (live[u.processor] || 0) + 1;
      live[`phase ${u.phase}`] = (live[`phase ${u.phase}`] || 0) + 1;
    }
  }
  const rows = [];
  for (const p of s.phases) {
    rows.push(row(h("b", {}, `Phase ${p.phase}`), p, live[`phase ${p.phase}`],
                  { "data-phase": p.phase, "data-done": p.done, "data-expected": p.expected, class: "phase-row" }));
    for (const t of s.tables.filter((t) => t.phase === p.phase)) {
      rows.push(row(`  ${t.table}`, t, live[t.processor], { "data-table": t.table, "data-done": t.done }));
    }
  }
  $("progress").replaceChildren(h("tr", {}, head.map(([t, c]) => h("th", { class: c }, t))), ...rows);
  $("rate").textContent = s.runs.length
    ? `rate ${s.rate_per_s} units/s · ETA ${s.eta_s == null ? "-" : secs(s.eta_s)} for what remains in this season`
    : s.last_run ? `no run in progress; last run ${s.last_run.run_id} (${s.last_run.command}) ${s.last_run.status}: ` +
      `${fmt(s.last_run.units)} units in ${s.last_run.seconds}s, finished ${s.last_run.finished_at}` : "no run recorded yet";
  $("runs").replaceChildren(s.runs.length ? table(
    [["run", "l"], ["command", "l"], ["phases", "l"], ["dates", "l"], ["units recorded", ""], ["elapsed", ""], ["rate /s", ""]],
    s.runs.map((r) => [r.run_id, r.command, r.phases, `${r.start_date}..${r.end_date}`, fmt(r.units), secs(r.elapsed_s), r.rate_per_s]))
    : h("p", { class: "small" }, "none"));
  const leaseRows = s.lease_holders.map((l) => ["holds", l.name, l.purpose, `${l.host}:${l.pid}`, l.acquired_at])
    .concat(s.lease_waiters.map((l) => ["waits for", l.name, l.purpose, `${l.host}:${l.pid}`, l.since]))
    .concat(s.workers.map((w) => [`worker: ${w.state}`, w.phase ? `phase ${w.phase} ${w.game_date || ""}` : "-",
                                  w.worker_id, `${w.host}:${w.pid}`, w.since]));
  $("leases").replaceChildren(leaseRows.length ? table([["who", "l"], ["what", "l"], ["purpose / id", "l"], ["process", "l"], ["since", "l"]], leaseRows)
    : h("p", { class: "small" }, "warehouse free; no worker registered"));
}

function paintOrchestrator(o) {
  $("orch-counts").textContent = Object.entries(o.counts).map(([k, v]) => `${k}: ${v}`).join(" · ") || "no completion recorded in this season";
  // Dates still open first (waiting, blocked, settling), then the most recent decisions.
  const open = o.dates.filter((r) => ["waiting", "blocked", "settling", "ready"].includes(r.state));
  const rest = o.dates.filter((r) => !open.includes(r)).reverse();
  const shown = open.concat(rest).slice(0, ORCH_ROWS);
  const names = (xs) => h("span", { title: xs.join(", ") }, xs.length ? `${xs.length}: ${clip(xs.join(", "), 60)}` : "-");
  const rows = shown.map((r) => [
    r.date, `${r.upstream_phase}→${r.phase}`, r.state,
    names(Object.entries(r.reported).map(([p, st]) => `${p} ${st}`)), names(r.awaited),
    r.triggered ? "yes" : "no", r.trigger_count, r.triggered_at || "-", r.trigger_state || "-"]);
  $("orchestrator").replaceChildren(rows.length ? table([["date", "l nw"], ["phase", "l"], ["state", "l"], ["reported", "l"],
    ["awaited", "l"], ["triggered", "l"], ["count", ""], ["last trigger", "l"], ["trigger state", "l"]], rows)
    : h("p", { class: "small" }, "nothing recorded for these dates"));
  if (o.dates.length > shown.length) {
    $("orchestrator").append(h("p", { class: "small" }, `showing ${shown.length} of ${o.dates.length} (open dates first, then the latest)`));
  }
}

function paintFailures(f) {
  $("failures").replaceChildren(f.failures.length ? table([["date", "l"], ["processor", "l"], ["error", "l"], ["run", "l"]],
    f.failures.map((x) => [x.date, x.processor, h("span", { class: "fail" }, x.error || ""), x.run_id]))
    : h("p", { class: "small" }, "none"));
}

// --- the loop --------------------------------------------------------------------------------
async function poll(slow) {
  try {
    if (!state.seasons.length) initSeasons(await getJSON("/api/summary"));
    const q = scope();
    const [summary, units] = await Promise.all([getJSON(`/api/summary?${q}`), getJSON(`/api/units?${q}`)]);
    paintHeatmap(units);
    paintSummary(summary);
    if (slow || state.polls % SLOW_EVERY === 0) {
      const [o, f] = await Promise.all([getJSON(`/api/orchestrator?${q}`), getJSON(`/api/failures?${q}&limit=20`)]);
      paintOrchestrator(o);
      paintFailures(f);
    }
    state.polls += 1;
    document.body.dataset.polls = state.polls;
    $("meta").textContent = `updated ${new Date().toLocaleTimeString()} · every ${POLL_MS / 1000}s · data as of ${summary.generated_at}`;
    $("error").textContent = "";
  } catch (e) {
    $("error").textContent = `${e.message} (retrying)`;
  }
}

async function loop() {
  await poll(true);
  setTimeout(loop, POLL_MS);
}
// Cells are sized to the window: redraw them when it changes size.
let resized = null;
window.addEventListener("resize", () => { clearTimeout(resized); resized = setTimeout(() => { state.built = null; poll(false); }, 300); });
loop();

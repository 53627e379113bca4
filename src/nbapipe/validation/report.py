"""`nbapipe report`: a coverage heatmap (PNG: dates x tables, one colour per status) and a
self-contained HTML page (inline CSS, the PNG embedded) with the per-phase summary and the
failures. Built from the state store only, like the monitor, so it can run mid-backfill."""
from __future__ import annotations

import base64
import datetime as dt
import html
from pathlib import Path

from nbapipe import processors as registry
from nbapipe.calendar import Calendar
from nbapipe.state import ledger
from nbapipe.validation.coverage import days_between
from nbapipe.validation.monitor import snapshot

# One colour per status (colour-blind-safe-ish: status order goes good -> bad).
COLOURS = {
    "success": (46, 125, 50), "partial": (249, 168, 37), "degraded": (239, 108, 0),
    "bootstrap_skip": (79, 195, 247), "no_games": (224, 224, 224), "warmup": (128, 203, 196),
    "upstream_missing": (171, 71, 188), "stale": (94, 53, 177), "failed": (211, 47, 47),
    "not_run": (97, 97, 97),
}
LABELS = {"success": "complete", "partial": "partial (some entities missing)",
          "degraded": "degraded (lookback gaps)", "bootstrap_skip": "bootstrap skip",
          "no_games": "no games", "warmup": "model warm-up (too little history yet)",
          "upstream_missing": "gap: input missing", "stale": "stale (earlier rows kept)", "failed": "failed",
          "not_run": "not run yet"}
LABEL_W, ROW_H, TOP, PLOT_W = 300, 20, 44, 1100


def grid(st, cal: Calendar, start: dt.date, end: dt.date) -> tuple[list[str], list[dt.date], dict]:
    """Per (processor, date): the latest ledger status, else what an empty cell means."""
    procs = registry.all_processors()
    days = days_between(start, end)
    latest = ledger.latest_map(st, start=start, end=end)
    cells = {}
    for name, p in procs.items():
        for d in days:
            cells[(name, d)] = cell_status(p, d, latest.get((name, d)), cal)
    return list(procs), days, cells


def cell_status(p, d: dt.date, row: dict | None, cal: Calendar) -> str:
    """A unit's status: its latest ledger row's, else what an empty cell means (the web
    dashboard colours its cells with the same rule)."""
    if row:
        return row["status"]
    if not cal.is_game_date(d):
        return "no_games"
    if p.bootstrap_skip and cal.is_bootstrap(d):
        return "bootstrap_skip"
    return "not_run"


def heatmap_png(path: Path, names: list[str], days: list[dt.date], cells: dict, title: str) -> None:
    from PIL import Image, ImageDraw
    cw = max(1, min(40, PLOT_W // max(len(days), 1)))
    width = LABEL_W + cw * len(days) + 20
    legend_y = TOP + ROW_H * len(names) + 34
    img = Image.new("RGB", (max(width, 760), legend_y + 30), "white")
    draw = ImageDraw.Draw(img)
    font = _font(12)
    draw.text((10, 8), title, fill="black", font=_font(15))
    for i, name in enumerate(names):
        y = TOP + i * ROW_H
        phase = registry.get(name).phase
        if i and phase != registry.get(names[i - 1]).phase:       # a rule between phases
            draw.line([10, y - 2, width - 10, y - 2], fill="black", width=1)
        draw.text((10, y + 3), f"P{phase} {registry.get(name).table}", fill="black", font=font)
        for j, d in enumerate(days):
            x = LABEL_W + j * cw
            draw.rectangle([x, y, x + cw - (1 if cw > 3 else 0), y + ROW_H - 2], fill=COLOURS[cells[(name, d)]])
    _x_axis(draw, days, cw, TOP + ROW_H * len(names) + 2, font)
    x = 10
    for status, colour in COLOURS.items():
        draw.rectangle([x, legend_y, x + 14, legend_y + 14], fill=colour, outline="black")
        draw.text((x + 19, legend_y + 1), LABELS[status], fill="black", font=font)
        x += 26 + int(draw.textlength(LABELS[status], font=font))
    img.save(path)


def _x_axis(draw, days: list[dt.date], cw: int, y: int, font) -> None:
    """Day numbers under each cell when they fit, else a tick at each month start."""
    for j, d in enumerate(days):
        x = LABEL_W + j * cw
        if cw >= 18:
            draw.text((x + 2, y), f"{d.day}", fill="black", font=font)
            if j == 0 or d.day == 1:
                draw.text((x + 2, y + 14), d.strftime("%b %Y"), fill="black", font=font)
        elif d.day == 1 or j == 0:
            draw.line([x, y, x, y + 5], fill="black")
            if d.month in (1, 4, 7, 10) or j == 0:
                draw.text((x + 2, y + 4), d.strftime("%b %Y"), fill="black", font=font)   # "Oct 21" reads as a day


def _font(size: int):
    from PIL import ImageFont
    try:
        return ImageFont.load_default(size=size)     # Pillow's bundled scalable font
    except TypeError:                                # older Pillow: its bitmap font
        return ImageFont.load_default()


def build(ws, cal: Calendar, start: dt.date, end: dt.date, out_dir: Path) -> dict:
    """Write coverage_<start>_<end>.png and .html into out_dir; return their paths and summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"coverage_{start}_{end}"
    names, days, cells = grid(ws.state, cal, start, end)
    snap = snapshot(ws.state, cal, start, end, failures=50)
    png = stem.with_suffix(".png")
    heatmap_png(png, names, days, cells, f"nbapipe coverage {start}..{end}: {snap['game_dates']} game dates, "
                                         f"{snap['no_game_dates']} without games, {snap['bootstrap_dates']} bootstrap dates")
    page = stem.with_suffix(".html")
    gaps = [r for r in ledger.latest(ws.state, start=start, end=end) if r["status"] in ledger.GAPS]
    page.write_text(_html(snap, png, gaps), encoding="utf-8")
    return {"html": str(page), "png": str(png), "summary": {k: snap[k] for k in
            ("start_date", "end_date", "days", "game_dates", "no_game_dates", "bootstrap_dates", "phases", "failures")}}


CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 20px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f2f2f2}td.l,th.l{text-align:left}
img{max-width:100%;border:1px solid #ddd}.fail{color:#b71c1c}"""


def _number(v) -> str:
    """Counts with thousands separators (33,804), percentages with one decimal."""
    if v is None:
        return ""
    return f"{v:,}" if isinstance(v, int) else f"{v:,.1f}"


def _html(snap: dict, png: Path, gaps: list[dict]) -> str:
    e = html.escape
    data = base64.b64encode(png.read_bytes()).decode()
    cols = ("expected", "done", "pct", "partial", "degraded", "upstream_missing", "stale", "failed", "not_run",
            "bootstrap", "rows")

    def table(rows: list[dict], first: str) -> str:
        head = f"<tr><th class=l>{first}</th>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>"
        body = "".join(f"<tr><td class=l>{e(str(r.get('table') or r['phase']))}</td>"
                       + "".join(f"<td>{_number(r[c])}</td>" for c in cols) + "</tr>" for r in rows)
        return f"<table>{head}{body}</table>"

    fails = "".join(f"<tr><td class=l>{e(f['date'])}</td><td class=l>{e(f['processor'])}</td>"
                    f"<td class='l fail'>{e(f['error'] or '')}</td></tr>" for f in snap["failures"])
    gap_rows = "".join(f"<tr><td class=l>{e(g['game_date'])}</td><td class=l>{e(g['processor'])}</td><td class=l>{e(g['status'])}</td>"
                       f"<td class=l>{e(g['detail'] or '')}</td></tr>" for g in gaps[:500])
    seasons = "".join(f"<h3>{e(s['season'])}</h3>{table(s['phases'], 'phase')}" for s in snap["seasons"])
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>nbapipe coverage {snap['start_date']}..{snap['end_date']}</title>
<style>{CSS}</style></head><body>
<h1>Coverage {snap['start_date']} .. {snap['end_date']}</h1>
<p>{snap['days']:,} days: {snap['game_dates']:,} game dates, {snap['no_game_dates']:,} without games (never expected),
{snap['bootstrap_dates']:,} bootstrap dates (skipped on purpose by the processors that skip them). Generated {e(snap['generated_at'])} from the run ledger.</p>
<img alt="coverage heatmap: dates by table, coloured by status" src="data:image/png;base64,{data}">
<h2>Per phase</h2>{table(snap['phases'], 'phase')}
<h2>Per table</h2>{table(snap['tables'], 'table')}
<h2>Per season</h2>{seasons}
<h2>Gaps ({len(gaps)}): which input is missing</h2>
{f'<table><tr><th class=l>date</th><th class=l>processor</th><th class=l>status</th><th class=l>why</th></tr>{gap_rows}</table>' if gaps else '<p>none</p>'}
<h2>Failures ({len(snap['failures'])})</h2>
{f'<table><tr><th class=l>date</th><th class=l>processor</th><th class=l>error</th></tr>{fails}</table>' if fails else '<p>none</p>'}
</body></html>
"""

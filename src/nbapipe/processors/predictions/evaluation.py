"""How good the predictions are: the `nbapipe grade` report, read from prediction_accuracy.

Per system, overall and per month: MAE, bias (mean signed error, > 0 = too high), within-3 and
within-5 rates over played games; and, over the picks against real lines, hit rate with its
count and a 95% Wilson interval at each edge threshold (|predicted - line| >= t). Voided picks
(PASS, DNP) and pushes are not in the hit rate; pushes are counted beside it.
"""
from __future__ import annotations

import datetime as dt
import math

from nbapipe.warehouse import Warehouse

Z95 = 1.959963984540054


def wilson_interval(hits: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval for a proportion (sound for small n and rates near 0 or 1,
    where the normal approximation is not)."""
    if n == 0:
        return None
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (round(centre - half, 4), round(centre + half, 4))


# Per (system, month) and per system (month NULL): accuracy over played games, lines and voids.
_ACCURACY_SQL = """
    SELECT system_id, strftime(game_date, '%Y-%m') AS month,
           count(*)                                                     AS predictions,
           count(absolute_error)                                        AS graded,
           sum(CASE WHEN is_dnp THEN 1 ELSE 0 END)                      AS dnp,
           avg(absolute_error)                                          AS mae,
           avg(signed_error)                                            AS bias,
           avg(CASE WHEN within_3_points THEN 1.0 WHEN within_3_points IS NOT NULL THEN 0.0 END) AS within_3_rate,
           avg(CASE WHEN within_5_points THEN 1.0 WHEN within_5_points IS NOT NULL THEN 0.0 END) AS within_5_rate,
           count(CASE WHEN points_line IS NOT NULL AND absolute_error IS NOT NULL THEN 1 END) AS with_line,
           avg(CASE WHEN points_line IS NOT NULL THEN absolute_error END) AS mae_with_line,
           avg(line_absolute_error)                                     AS line_mae,
           sum(CASE WHEN recommendation = 'PASS' AND NOT is_dnp THEN 1 ELSE 0 END) AS passes
    FROM _grade_rows
    GROUP BY GROUPING SETS ((system_id, strftime(game_date, '%Y-%m')), (system_id))
"""

# Per (system, month, edge threshold) and per (system, threshold): decided picks and pushes.
_PICKS_SQL = """
    SELECT g.system_id, strftime(g.game_date, '%Y-%m') AS month, t.edge_min,
           sum(CASE WHEN g.prediction_correct THEN 1 ELSE 0 END)     AS hits,
           count(g.prediction_correct)                                 AS picks,
           sum(CASE WHEN g.is_push THEN 1 ELSE 0 END)                  AS pushes
    FROM _grade_rows g
    JOIN _grade_edges t ON abs(g.edge) >= t.edge_min
    WHERE g.recommendation IN ('OVER', 'UNDER') AND NOT g.is_voided
    GROUP BY GROUPING SETS ((g.system_id, strftime(g.game_date, '%Y-%m'), t.edge_min), (g.system_id, t.edge_min))
"""


def grade_report(wh: Warehouse, dates: list[dt.date], edges: list[float],
                 systems: list[str] | None = None) -> dict:
    """The report over the graded predictions of `dates` (JSON-ready)."""
    _stage(wh, dates, edges, systems)
    acc = {(r["system_id"], r["month"]): r for r in wh.rows(_ACCURACY_SQL)}
    picks: dict[tuple, list[dict]] = {}
    for r in wh.rows(_PICKS_SQL):
        picks.setdefault((r["system_id"], r["month"]), []).append(r)
    out = []
    for system in sorted({s for s, _ in acc}):
        months = sorted(m for s, m in acc if s == system and m is not None)
        out.append({"system_id": system,
                    "overall": _block(acc[(system, None)], picks.get((system, None), []), edges),
                    "months": [{"month": m, **_block(acc[(system, m)], picks.get((system, m), []), edges)}
                               for m in months]})
    graded_dates = wh.tuples("SELECT min(game_date), max(game_date), count(DISTINCT game_date) FROM _grade_rows")[0]
    return {"first_date": graded_dates[0], "last_date": graded_dates[1], "graded_dates": graded_dates[2],
            "edge_thresholds": edges, "systems": out}


def _stage(wh: Warehouse, dates: list[dt.date], edges: list[float], systems: list[str] | None) -> None:
    wh.execute("CREATE OR REPLACE TEMP TABLE _grade_dates (game_date DATE)")
    wh.con.executemany("INSERT INTO _grade_dates VALUES (?)", [[d] for d in dates])
    wh.execute("CREATE OR REPLACE TEMP TABLE _grade_edges (edge_min DOUBLE)")
    wh.con.executemany("INSERT INTO _grade_edges VALUES (?)", [[float(e)] for e in edges])
    only = f" AND system_id IN ({', '.join('?' * len(systems))})" if systems else ""
    wh.execute("CREATE OR REPLACE TEMP TABLE _grade_rows AS SELECT * FROM nba_predictions.prediction_accuracy "
               f"WHERE game_date IN (SELECT game_date FROM _grade_dates){only}", list(systems or []))


def _block(acc: dict, picks: list[dict], edges: list[float]) -> dict:
    by_edge = {r["edge_min"]: r for r in picks}
    return {
        "predictions": acc["predictions"], "graded": acc["graded"], "dnp": acc["dnp"],
        "mae": _r(acc["mae"]), "bias": _r(acc["bias"]),
        "within_3_rate": _r(acc["within_3_rate"]), "within_5_rate": _r(acc["within_5_rate"]),
        "with_line": acc["with_line"], "mae_with_line": _r(acc["mae_with_line"]),
        "line_mae": _r(acc["line_mae"]), "passes": acc["passes"],
        "picks": [_pick_row(e, by_edge.get(float(e))) for e in edges],
    }


def _pick_row(edge: float, r: dict | None) -> dict:
    hits, n, pushes = (r["hits"], r["picks"], r["pushes"]) if r else (0, 0, 0)
    return {"edge_min": edge, "picks": n, "hits": hits, "pushes": pushes,
            "hit_rate": round(hits / n, 4) if n else None, "ci95": wilson_interval(hits, n)}


def _r(v, digits: int = 4):
    return None if v is None else round(float(v), digits)


# --- `nbapipe evaluate`: each system against the simple baselines on the same player-games ---
#
# Baselines (the definitions, computed here from player_game_summary, not from the
# feature store, so a feature bug cannot flatter them):
#   last_10  the mean points of the player's previous (up to) 10 games with minutes > 0 in the
#            same season;
#   blend    0.5 x last-5 + 0.3 x last-10 + 0.2 x season average (same games, same season).
# Scored player-games: every game in the range where the player had minutes > 0 and at least one
# earlier such game that season, and the system has a prediction. Each system's figures and the
# baselines beside it are over exactly the same rows.
_EVAL_ROWS_SQL = """
    CREATE OR REPLACE TEMP TABLE _eval_rows AS
    WITH played AS (
        SELECT game_date, game_id, player_lookup, season_year, CAST(points AS DOUBLE) AS points
        FROM nba_analytics.player_game_summary
        WHERE minutes_played > 0 AND points IS NOT NULL
          AND season_year IN (SELECT DISTINCT season_year FROM nba_analytics.player_game_summary
                              WHERE game_date IN (SELECT game_date FROM _grade_dates))
          AND game_date <= (SELECT max(game_date) FROM _grade_dates)
    ),
    windows AS (
        SELECT *,
               avg(points) OVER (PARTITION BY player_lookup, season_year ORDER BY game_date, game_id
                                 ROWS BETWEEN 10 PRECEDING AND 1 PRECEDING) AS last_10,
               avg(points) OVER (PARTITION BY player_lookup, season_year ORDER BY game_date, game_id
                                 ROWS BETWEEN 5 PRECEDING AND 1 PRECEDING) AS last_5,
               avg(points) OVER (PARTITION BY player_lookup, season_year ORDER BY game_date, game_id
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS season_avg,
               count(*) OVER (PARTITION BY player_lookup, season_year ORDER BY game_date, game_id
                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier_games
        FROM played
    )
    SELECT a.system_id, a.game_date, strftime(a.game_date, '%Y-%m') AS month, a.player_lookup,
           w.points AS actual, a.predicted_points AS predicted, w.last_10,
           0.5 * w.last_5 + 0.3 * w.last_10 + 0.2 * w.season_avg AS blend,
           a.points_line, a.p_over, a.line_p_over, a.went_over, a.recommendation,
           a.prediction_correct, a.is_push, a.profit
    FROM windows w
    JOIN nba_predictions.prediction_accuracy a ON a.game_date = w.game_date AND a.player_lookup = w.player_lookup
    WHERE w.game_date IN (SELECT game_date FROM _grade_dates) AND w.earlier_games >= 1
"""

_EVAL_ACCURACY_SQL = """
    SELECT system_id, month, count(*) AS rows,
           avg(abs(predicted - actual)) AS mae, avg(predicted - actual) AS bias,
           avg(CASE WHEN abs(predicted - actual) <= 3 THEN 1.0 ELSE 0.0 END) AS within_3,
           avg(CASE WHEN abs(predicted - actual) <= 5 THEN 1.0 ELSE 0.0 END) AS within_5,
           avg(abs(last_10 - actual)) AS last_10_mae, avg(last_10 - actual) AS last_10_bias,
           avg(CASE WHEN abs(last_10 - actual) <= 3 THEN 1.0 ELSE 0.0 END) AS last_10_within_3,
           avg(CASE WHEN abs(last_10 - actual) <= 5 THEN 1.0 ELSE 0.0 END) AS last_10_within_5,
           avg(abs(blend - actual)) AS blend_mae, avg(blend - actual) AS blend_bias,
           avg(CASE WHEN abs(blend - actual) <= 3 THEN 1.0 ELSE 0.0 END) AS blend_within_3,
           avg(CASE WHEN abs(blend - actual) <= 5 THEN 1.0 ELSE 0.0 END) AS blend_within_5,
           count(points_line) AS lined_rows,
           avg(CASE WHEN points_line IS NOT NULL THEN abs(predicted - actual) END) AS lined_mae,
           avg(abs(points_line - actual)) AS line_mae,
           count(CASE WHEN p_over IS NOT NULL AND went_over IS NOT NULL THEN 1 END) AS brier_rows,
           avg(CASE WHEN p_over IS NOT NULL AND went_over IS NOT NULL THEN (p_over - went_over) ^ 2 END) AS brier,
           avg(CASE WHEN p_over IS NOT NULL AND went_over IS NOT NULL THEN (line_p_over - went_over) ^ 2 END) AS line_brier,
           count(prediction_correct) AS picks, sum(CASE WHEN prediction_correct THEN 1 ELSE 0 END) AS hits,
           sum(CASE WHEN is_push AND recommendation IN ('OVER', 'UNDER') THEN 1 ELSE 0 END) AS pushes,
           count(profit) AS staked, sum(profit) AS profit
    FROM _eval_rows
    GROUP BY GROUPING SETS ((system_id, month), (system_id))
"""

# Reliability: P(over) in tenths against how often the player went over, beside the books'.
_RELIABILITY_SQL = """
    SELECT system_id, least(floor(p_over * 10), 9) AS bin, count(*) AS rows,
           avg(p_over) AS mean_p, avg(went_over) AS observed, avg(line_p_over) AS mean_line_p
    FROM _eval_rows WHERE p_over IS NOT NULL AND went_over IS NOT NULL
    GROUP BY ALL ORDER BY system_id, bin
"""


def evaluate_report(wh: Warehouse, dates: list[dt.date], systems: list[str] | None = None) -> dict:
    """Every system on the scored player-games of `dates` beside the last-10 average and the
    blend (same rows), overall and per month; lined rows against the line; calibration and picks."""
    _stage(wh, dates, [0.0], systems)
    wh.execute(_EVAL_ROWS_SQL + (f" AND a.system_id IN ({', '.join('?' * len(systems))})" if systems else ""),
               list(systems or []))
    acc: dict = {}
    for r in wh.rows(_EVAL_ACCURACY_SQL):
        acc[(r["system_id"], r["month"])] = _eval_block(r)
    reliability: dict = {}
    for r in wh.rows(_RELIABILITY_SQL):
        reliability.setdefault(r["system_id"], []).append(
            {"bin": f"{int(r['bin']) / 10:.1f}-{(int(r['bin']) + 1) / 10:.1f}", "rows": r["rows"],
             "mean_p_over": _r(r["mean_p"]), "observed_over": _r(r["observed"]),
             "mean_line_p_over": _r(r["mean_line_p"])})
    out = []
    for system in sorted({s for s, _ in acc}):
        months = sorted(m for s, m in acc if s == system and m is not None)
        out.append({"system_id": system, "overall": acc[(system, None)],
                    "months": [{"month": m, **acc[(system, m)]} for m in months],
                    "reliability": reliability.get(system, [])})
    span = wh.tuples("SELECT min(game_date), max(game_date), count(DISTINCT game_date) FROM _eval_rows")[0]
    return {"first_date": span[0], "last_date": span[1], "dates": span[2],
            "baselines": {"last_10": "mean points of the previous (up to) 10 games with minutes > 0, same season",
                          "blend": "0.5 x last-5 + 0.3 x last-10 + 0.2 x season average (same games)"},
            "scored_rows": "minutes > 0 and at least one earlier game with minutes that season",
            "systems": out}


def _eval_block(r: dict) -> dict:
    hits, picks = int(r["hits"] or 0), int(r["picks"] or 0)
    return {
        "rows": r["rows"], "mae": _r(r["mae"]), "bias": _r(r["bias"]),
        "within_3": _r(r["within_3"]), "within_5": _r(r["within_5"]),
        "last_10": {"mae": _r(r["last_10_mae"]), "bias": _r(r["last_10_bias"]),
                    "within_3": _r(r["last_10_within_3"]), "within_5": _r(r["last_10_within_5"])},
        "blend": {"mae": _r(r["blend_mae"]), "bias": _r(r["blend_bias"]),
                  "within_3": _r(r["blend_within_3"]), "within_5": _r(r["blend_within_5"])},
        "mae_vs_last_10": _r(r["mae"] / r["last_10_mae"]) if r["last_10_mae"] else None,
        "mae_vs_blend": _r(r["mae"] / r["blend_mae"]) if r["blend_mae"] else None,
        "lined": {"rows": r["lined_rows"], "mae": _r(r["lined_mae"]), "line_mae": _r(r["line_mae"]),
                  "mae_vs_line": _r(r["lined_mae"] / r["line_mae"]) if r["line_mae"] else None},
        "calibration": {"rows": r["brier_rows"], "brier": _r(r["brier"]), "line_brier": _r(r["line_brier"])},
        "picks": {"picks": picks, "hits": hits, "pushes": int(r["pushes"] or 0),
                  "hit_rate": round(hits / picks, 4) if picks else None, "ci95": wilson_interval(hits, picks),
                  "staked": r["staked"], "profit": _r(r["profit"]),
                  "roi": _r(r["profit"] / r["staked"]) if r["staked"] else None},
    }


# --- the PNG: calibration (reliability diagram) and MAE by month, drawn with Pillow ---------

_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]


def write_png(report: dict, folder) -> list:
    """Two charts in `folder`: calibration.png (P(over) vs observed, per system and the books')
    and mae_by_month.png (each system, the last-10 average and the blend). Returns the paths."""
    from pathlib import Path
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "calibration.png", folder / "mae_by_month.png"]
    _calibration_png(report, paths[0])
    _mae_png(report, paths[1])
    return paths


def _canvas(title: str):
    from PIL import Image, ImageDraw
    img = Image.new("RGB", (720, 520), "white")
    d = ImageDraw.Draw(img)
    d.text((60, 15), title, fill="black")
    return img, d


def _axes(d, x0, y0, x1, y1, xlabels, ylo, yhi, yfmt):
    d.rectangle([x0, y0, x1, y1], outline="black")
    for i in range(5):
        v = ylo + (yhi - ylo) * i / 4
        y = y1 - (y1 - y0) * i / 4
        d.line([x0 - 4, y, x0, y], fill="black")
        d.text((x0 - 50, y - 6), yfmt(v), fill="black")
    for x, label in xlabels:
        d.line([x, y1, x, y1 + 4], fill="black")
        d.text((x - 18, y1 + 8), label, fill="black")


def _calibration_png(report: dict, path) -> None:
    img, d = _canvas("calibration on lined rows: mean P(over) per tenth vs how often it went over")
    x0, y0, x1, y1 = 80, 50, 560, 470
    sx = lambda p: x0 + (x1 - x0) * p
    sy = lambda p: y1 - (y1 - y0) * p
    _axes(d, x0, y0, x1, y1, [(sx(i / 5), f"{i / 5:.1f}") for i in range(6)], 0, 1, lambda v: f"{v:.2f}")
    d.line([sx(0), sy(0), sx(1), sy(1)], fill=(180, 180, 180))
    legend = []
    for i, s in enumerate(report["systems"]):
        pts = [(sx(b["mean_p_over"]), sy(b["observed_over"])) for b in s["reliability"]]
        if not pts:
            continue
        colour = _COLOURS[i % len(_COLOURS)]
        d.line(pts, fill=colour, width=2) if len(pts) > 1 else None
        for x, y in pts:
            d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        legend.append((s["system_id"], colour))
        line_pts = [(sx(b["mean_line_p_over"]), sy(b["observed_over"])) for b in s["reliability"]]
        for x, y in line_pts:
            d.rectangle([x - 2, y - 2, x + 2, y + 2], outline=(90, 90, 90))
    legend.append(("books' vig-free P(over), same bins", (90, 90, 90)))
    for k, (name, colour) in enumerate(legend):
        d.rectangle([575, 60 + 18 * k, 585, 70 + 18 * k], fill=colour)
        d.text((590, 58 + 18 * k), name[:22], fill="black")
    img.save(path)


def _mae_png(report: dict, path) -> None:
    img, d = _canvas("MAE by month on the same player-games: systems, last-10 average, blend")
    systems = report["systems"]
    months = sorted({m["month"] for s in systems for m in s["months"]})
    if not months:
        img.save(path)
        return
    series = [(s["system_id"], {m["month"]: m["mae"] for m in s["months"]}) for s in systems]
    ref = systems[0]
    series.append(("last-10 average", {m["month"]: m["last_10"]["mae"] for m in ref["months"]}))
    series.append(("blend", {m["month"]: m["blend"]["mae"] for m in ref["months"]}))
    values = [v for _, vals in series for v in vals.values() if v is not None]
    lo, hi = min(values) - 0.1, max(values) + 0.1
    x0, y0, x1, y1 = 80, 50, 560, 470
    step = (x1 - x0) / max(len(months), 1)
    sx = lambda i: x0 + step * (i + 0.5)
    sy = lambda v: y1 - (y1 - y0) * (v - lo) / (hi - lo)
    _axes(d, x0, y0, x1, y1, [(sx(i), m) for i, m in enumerate(months)], lo, hi, lambda v: f"{v:.2f}")
    for k, (name, vals) in enumerate(series):
        colour = _COLOURS[k % len(_COLOURS)]
        pts = [(sx(i), sy(vals[m])) for i, m in enumerate(months) if vals.get(m) is not None]
        if len(pts) > 1:
            d.line(pts, fill=colour, width=2)
        for x, y in pts:
            d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        d.rectangle([575, 60 + 18 * k, 585, 70 + 18 * k], fill=colour)
        d.text((590, 58 + 18 * k), name[:22], fill="black")
    img.save(path)

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

"""Layouts by meaning: which of a file's columns a loader reads, whatever the file calls them.

A loader names its columns once (its signature, required and optional columns). A file may
call them by a synonym (columns.SYNONYMS: `over_price` for `over_odds`, `odds_api_event_id` for
`event_id`, ...) and may be long instead of wide: one row per side (Over/Under) with the price
in `american_odds` instead of `over_odds` and `under_odds` side by side. `fit` says how a header
fits a loader (the renames, whether to pivot, what is still missing); `shape` turns the file's
text table into the loader's columns, pivoting a long file to one record per line. Lines the
pivot cannot place (a side that is neither over nor under, a second price for one side) are
returned as unparsed lines, to be quarantined like any other bad line."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from nbapipe.sources.base import Loader
from nbapipe.sources.columns import LONG_PRICE, LONG_SIDE, PRICE_PAIRS, SYNONYMS, q
from nbapipe.warehouse import Warehouse


@dataclass
class Layout:
    """How a file's header fits one loader."""
    renames: dict[str, str] = field(default_factory=dict)     # file column -> loader column
    long: tuple[str, str, str, str] | None = None             # (side, price, over col, under col)
    missing: list[str] = field(default_factory=list)          # required columns still absent

    @property
    def fits(self) -> bool:
        return not self.missing


def needed(loader: Loader) -> set[str]:
    return set(loader.signature) | loader.required_sources() | set(loader.optional)


def _pick(header: set[str], *names: str) -> str | None:
    return next((n for n in names if n in header), None)


def fit(loader: Loader, header: list[str]) -> Layout:
    """The renames (and pivot) that give `loader` its columns from `header`."""
    cols = set(header)
    want = needed(loader)
    renames: dict[str, str] = {}
    for c in sorted(want - cols):
        alt = next((a for a in SYNONYMS.get(c, ()) if a in cols and a not in want
                    and a not in renames), None)
        if alt:
            renames[alt] = c
    have = (cols - set(renames)) | set(renames.values())
    layout = Layout(renames)
    for over, under in PRICE_PAIRS:
        side = _pick(cols, *LONG_SIDE)
        price = _pick(cols, *LONG_PRICE)
        if {over, under} <= want and not ({over, under} & have) and side and price:
            layout.long = (side, price, over, under)
            have |= {over, under}
    layout.missing = sorted(loader.required_sources() - have)
    return layout


def recognises(loader: Loader, header: list[str], layout: Layout) -> bool:
    have = (set(header) - set(layout.renames)) | set(layout.renames.values())
    if layout.long:
        have |= set(layout.long[2:])
    return bool(loader.signature) and loader.signature <= have and not (loader.absent & set(header))


def shape(wh: Warehouse, table: pa.Table, layout: Layout) -> tuple[pa.Table, list[tuple[int, str, str]]]:
    """The file's text table in the loader's column names (pivoted when long), and the lines
    the pivot could not place."""
    if layout.renames:
        table = table.rename_columns([layout.renames.get(c, c) for c in table.column_names])
    if not layout.long:
        return table, []
    return _long_to_wide(wh, table, *layout.long)


def _long_to_wide(wh: Warehouse, table: pa.Table, side: str, price: str, over: str,
                  under: str) -> tuple[pa.Table, list[tuple[int, str, str]]]:
    """One record per line from one row per side: every column but the side and the price is
    the line's identity; its first row's line number is the record's."""
    keys = [c for c in table.column_names if c not in (side, price, "__line")]
    s = f"lower(trim({q(side)}))"
    group = ", ".join(q(c) for c in keys)
    wh.con.register("_long", table)
    try:
        # A side that is neither over nor under, and a second price for a side, are bad lines.
        wh.execute(f"""
            CREATE OR REPLACE TEMP TABLE _long_sides AS
            SELECT *, CASE WHEN {s} IN ('over', 'under') THEN {s} END AS __side,
                   row_number() OVER (PARTITION BY {group}, {s} ORDER BY __line) AS __nth
            FROM _long""")
        bad = wh.tuples(f"""
            SELECT __line, CASE WHEN __side IS NULL
                               THEN 'side is neither over nor under: ' || coalesce({q(side)}, '')
                               ELSE 'a second ' || __side || ' price for the same line' END,
                   CAST(to_json(_long_sides) AS VARCHAR)
            FROM _long_sides WHERE __side IS NULL OR __nth > 1 ORDER BY __line""")
        wide = wh.con.sql(f"""
            SELECT min(__line) AS __line, {group},
                   max({q(price)}) FILTER (WHERE __side = 'over') AS {q(over)},
                   max({q(price)}) FILTER (WHERE __side = 'under') AS {q(under)}
            FROM _long_sides WHERE __side IS NOT NULL AND __nth = 1
            GROUP BY ALL ORDER BY 1""").to_arrow_table()
    finally:
        with contextlib.suppress(duckdb.Error):
            wh.con.unregister("_long")
    return wide, [(line, reason, text) for line, reason, text in bad]


def closest(loaders: list[Loader], header: list[str], n: int = 3) -> str:
    """What the nearest formats would need, for the message of a file no loader takes."""
    cols = set(header)
    ranked = sorted((l for l in loaders if l.signature),
                    key=lambda l: (-len(l.signature & cols), len(l.signature - cols), l.name))
    return "; ".join(f"{l.name} needs {', '.join(sorted(l.signature - cols)) or '(nothing more)'}"
                     for l in ranked[:n])

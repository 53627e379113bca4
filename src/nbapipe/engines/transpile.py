"""Processor SQL (written in DuckDB's dialect) for other engines, through SQLGlot, strictly.

DESIGN section 10: the processors are written in a portable subset so the same SQL can run on a
distributed engine. `transpile` turns DuckDB SQL into Spark or BigQuery SQL and refuses, with
NotPortable, anything that would not mean the same thing there:

- a function SQLGlot does not know (it would be copied verbatim, e.g. DuckDB's `timezone()`),
- a lone `AT TIME ZONE` (its meaning depends on the operand's type and differs per engine; the
  portable spelling is the pair `naive_ts AT TIME ZONE 'from' AT TIME ZONE 'to'`, a wall-clock
  conversion, which is rewritten to SQLGlot's ConvertTimezone),
- a decimal literal in arithmetic (DECIMAL in DuckDB and Spark, FLOAT64 in BigQuery: results and
  output types would differ; write CAST(0.44 AS DOUBLE)),
- ASOF joins, QUALIFY and named WINDOW clauses,
- and anything SQLGlot itself reports as unsupported in the target (ErrorLevel.RAISE).
"""
from __future__ import annotations

from typing import Callable

import sqlglot
from sqlglot import ErrorLevel, exp

SOURCE = "duckdb"
TARGETS = ("spark", "bigquery")


class NotPortable(ValueError):
    """Processor SQL outside the portable subset (DESIGN section 10)."""


def parse(sql: str) -> exp.Expression:
    """One DuckDB statement, parse errors raised."""
    return sqlglot.parse_one(sql, read=SOURCE, error_level=ErrorLevel.RAISE)


def transpile(sql: str, dialect: str,
              table: Callable[[exp.Table], exp.Expression | None] | None = None) -> str:
    """`sql` in `dialect`. `table` may map a warehouse table to what the target reads instead
    (the Spark engine maps `schema.table` to its Parquet folder); None keeps it."""
    tree = parse(sql)
    check_portable(tree)
    tree = tree.transform(_convert_timezone)
    if table:
        tree = tree.transform(lambda n: (table(n) or n) if isinstance(n, exp.Table) and n.db else n)
    return tree.sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE)


def check_portable(tree: exp.Expression) -> None:
    problems = [p for node in tree.walk() if (p := _problem(node))]
    if problems:
        raise NotPortable("; ".join(dict.fromkeys(problems)))


def _problem(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Anonymous):
        return f"function {node.name}() is unknown to SQLGlot and would be copied verbatim"
    if isinstance(node, exp.AtTimeZone) and not _is_tz_pair(node) and not _is_tz_pair(node.parent):
        return f"lone AT TIME ZONE in {node.sql(SOURCE)!r}: write ts AT TIME ZONE 'from' AT TIME ZONE 'to'"
    if isinstance(node, exp.Literal) and _is_decimal(node) and isinstance(
            node.parent, (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)):
        return f"decimal literal {node.this} in arithmetic: write CAST({node.this} AS DOUBLE)"
    if isinstance(node, exp.Join) and node.args.get("method"):
        return f"{node.args['method']} JOIN"
    if isinstance(node, exp.Qualify):
        return "QUALIFY"
    if isinstance(node, exp.Select) and node.args.get("windows"):
        return "named WINDOW clause"
    return None


def _is_decimal(lit: exp.Literal) -> bool:
    return not lit.is_string and any(c in lit.this for c in ".eE")


def _is_tz_pair(node: exp.Expression | None) -> bool:
    return isinstance(node, exp.AtTimeZone) and isinstance(node.this, exp.AtTimeZone)


def _convert_timezone(node: exp.Expression) -> exp.Expression:
    """`ts AT TIME ZONE a AT TIME ZONE b` on a naive timestamp (the warehouse stores naive
    UTC) means "wall clock in a, as wall clock in b" in DuckDB; SQLGlot would translate each
    AT TIME ZONE on its own (from_utc_timestamp twice in Spark), so say what it means."""
    if _is_tz_pair(node):
        inner = node.this
        return exp.ConvertTimezone(source_tz=inner.args["zone"], target_tz=node.args["zone"],
                                   timestamp=inner.this)
    return node

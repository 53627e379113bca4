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
              table: Callable[[exp.Table], exp.Expression | None] | None = None,
              strict: bool = True) -> str:
    """`sql` in `dialect`. `table` may map a warehouse table to what the target reads instead
    (the Spark engine maps `schema.table` to a view over its Parquet folder); None keeps it.
    `strict`: refuse SQL outside the portable subset (processors); a person's ad-hoc query
    (`nbapipe sql --engine spark`) is only translated, and the target says what it rejects."""
    tree = parse(sql)
    if strict:
        check_portable(tree)
    tree = tree.transform(_convert_timezone)
    for cte in tree.find_all(exp.CTE):
        # `AS MATERIALIZED` is a planning hint for DuckDB (a CTE read several times is computed
        # once); Spark and BigQuery have no such syntax and plan CTEs themselves.
        cte.set("materialized", None)
    if dialect == "spark":
        tree = tree.transform(exact_round)
    if table:
        tree = tree.transform(lambda n: (table(n) or n) if isinstance(n, exp.Table) and n.db else n)
    return tree.sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE)


def is_query(sql: str) -> bool:
    """A read-only statement (SELECT, WITH ... SELECT, set operations)."""
    return isinstance(parse(sql), exp.Query)


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


# Veltkamp's splitter for doubles (2^27 + 1): x = xh + xl, halves whose products are exact.
_SPLITTER = 134217729


def exact_round(node: exp.Expression) -> exp.Expression:
    """round(x, d) on a DOUBLE as DuckDB computes it: the double's exact binary value rounded
    half away from zero. Spark rounds the double's shortest decimal text instead, which differs
    for values a hair from a tie (averages of 6-decimal numbers land on ties often). So: hi =
    x * 10^d, and when hi sits exactly on .5 the rounding error of that product (Dekker's exact
    product from Veltkamp halves of x) says which side of the tie x really is.
    Valid for |x * 10^d| < 2^53, far above any rounded rate or ratio here."""
    if not isinstance(node, exp.Round) or node.args.get("decimals") is None:
        return node               # round(x): half away from zero on the double in both engines
    digits = node.args["decimals"]
    if not (isinstance(digits, exp.Literal) and not digits.is_string):
        raise NotPortable(f"round() with non-literal digits: {node.sql(SOURCE)!r}")
    x = exp.paren(node.this.transform(exact_round), copy=False)   # rounds inside the argument too
    scale = _double(10 ** int(digits.this))
    hi = _op(exp.Mul, x, scale)
    c = _op(exp.Mul, x, _double(_SPLITTER))
    xh = _op(exp.Sub, c, _op(exp.Sub, c, x))
    xl = _op(exp.Sub, x, xh)
    err = _op(exp.Add, _op(exp.Sub, _op(exp.Mul, xh, scale), hi), _op(exp.Mul, xl, scale))
    on_tie = exp.EQ(this=_op(exp.Sub, hi, exp.Floor(this=hi.copy())), expression=_double(0.5))
    rounded = (exp.Case()
               .when(exp.and_(on_tie.copy(), exp.GT(this=err.copy(), expression=_double(0))), exp.Ceil(this=hi.copy()))
               .when(exp.and_(on_tie.copy(), exp.LT(this=err.copy(), expression=_double(0))), exp.Floor(this=hi.copy()))
               .else_(exp.Round(this=hi.copy())))
    return _op(exp.Div, exp.paren(rounded, copy=False), scale)


def _double(value) -> exp.Expression:
    return exp.cast(exp.Literal.number(value), "DOUBLE")


def _op(kind, a: exp.Expression, b: exp.Expression) -> exp.Expression:
    return exp.paren(kind(this=a.copy(), expression=b.copy()), copy=False)

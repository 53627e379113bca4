"""Every processor's SQL is portable (DESIGN section 10): SQLGlot parses it as DuckDB and writes it
for Spark and BigQuery with anything unsupported raised, so non-portable SQL fails the day it is
written. BigQuery output is only transpiled and syntax-checked here, never executed."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlglot
from sqlglot.errors import ParseError

from nbapipe import processors as registry
from nbapipe.engines.transpile import TARGETS, NotPortable, exact_round, parse, transpile
from nbapipe.processors.sources import CHAINS, chain_view_sql

PROCESSORS = sorted(registry.all_processors())


def _statements() -> list[tuple[str, str]]:
    """(label, DuckDB SQL) for every SELECT a processor run sends to an engine."""
    out = []
    for name in PROCESSORS:
        p = registry.get(name)
        if p.compute is None:
            out.append((f"{name}.sql", p.sql))
        if p.expected_sql:
            out.append((f"{name}.expected_sql", p.expected_sql.replace("{out}", f"_out_{name}")))
    return out


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("label,sql", _statements(), ids=[s[0] for s in _statements()])
def test_processor_sql_transpiles(label, sql, target):
    text = transpile(sql, target)
    # The output must itself be valid SQL of the target dialect.
    assert sqlglot.parse_one(text, read=target) is not None


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_chain_views_transpile(wh, chain, target):
    """The fallback-chain views, with every member table present (real column lists, so the
    NULL defaults for columns a source lacks are covered too)."""
    c = CHAINS[chain]
    available = {t: set(wh.columns(t)) for t in c.tables() if wh.table_exists(t)}
    assert available, f"{chain}: no member table in the schema"
    transpile(chain_view_sql(c, available), target)


@pytest.mark.parametrize("sql,why", [
    ("SELECT timezone('America/New_York', ts) FROM t", "timezone"),
    ("SELECT ts AT TIME ZONE 'UTC' FROM t", "lone AT TIME ZONE"),
    ("SELECT 0.44 * fta FROM t", "decimal literal 0.44"),
    ("SELECT a FROM t QUALIFY row_number() OVER (ORDER BY a) = 1", "QUALIFY"),
    ("SELECT a FROM t ASOF JOIN u ON t.d >= u.d", "ASOF"),
    ("SELECT sum(a) OVER w FROM t WINDOW w AS (ORDER BY b)", "named WINDOW"),
])
def test_non_portable_sql_is_refused(sql, why):
    with pytest.raises(NotPortable, match=why):
        transpile(sql, "spark")


def test_unsupported_in_target_and_parse_errors_raise():
    with pytest.raises(sqlglot.errors.UnsupportedError):
        # BigQuery has no NULLS clause in a window with a frame (why the processors say NULLS FIRST).
        transpile("SELECT count(*) OVER (ORDER BY d ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM t", "bigquery")
    with pytest.raises(ParseError):
        transpile("SELECT FROM WHERE (", "spark")


def test_wall_clock_conversion_means_the_same(wh):
    """The tip-off conversion (Eastern wall clock -> UTC) as DuckDB runs it, across a DST change,
    and its Spark spelling (SQLGlot's own would be from_utc_timestamp twice: the wrong way)."""
    sql = ("SELECT CAST(strptime(d || ' ' || t, '%Y-%m-%d %I:%M %p') AS TIMESTAMP) "
           "AT TIME ZONE 'America/New_York' AT TIME ZONE 'UTC' AS utc FROM (VALUES "
           "('2022-10-18', '7:30 PM'), ('2023-01-09', '10:00 PM')) v(d, t) ORDER BY d")
    assert [r[0] for r in wh.tuples(sql)] == [dt.datetime(2022, 10, 18, 23, 30), dt.datetime(2023, 1, 10, 3, 0)]
    assert "CONVERT_TIMEZONE('America/New_York', 'UTC'" in transpile(sql, "spark")


def test_exact_round_formula_is_duckdbs_round(wh):
    """The round() Spark gets (engines.transpile.exact_round), evaluated by DuckDB itself, equals
    DuckDB's round on values a hair either side of a tie, negatives and products included."""
    wh.execute("CREATE TEMP TABLE xs AS SELECT i, x FROM (SELECT i, CASE i % 4 "
               "WHEN 0 THEN (i + 0.5) / 1e6 WHEN 1 THEN -(i + 0.5) / 1e6 "
               "WHEN 2 THEN (2 * i + 1) / 2e6 * 0.3 ELSE i / 7e5 END AS x FROM range(100000000, 100040000) r(i))")
    rewritten = parse("SELECT i, round(x, 6) AS a, round(x * 3, 2) AS b FROM xs").transform(exact_round).sql("duckdb")
    assert "ROUND(x, 6)" not in rewritten.upper().replace(" ", "")
    bad = wh.scalar(f"SELECT count(*) FROM ({rewritten}) n JOIN xs USING (i) "
                    f"WHERE n.a <> round(xs.x, 6) OR n.b <> round(xs.x * 3, 2)")
    assert bad == 0

"""The Spark engine (optional extra `nbapipe[spark]`): the same processor SQL, transpiled from
DuckDB's dialect by SQLGlot, run by Spark SQL (local mode by default, or any master).

Storage: Parquet under the Spark warehouse folder (config.spark_warehouse), one folder per table,
`<schema>/<table>/`. Processor outputs are partitioned by their slice column
(`<slice column>=<date>/`) and a run replaces its slices by dynamic partition overwrite: only the
written dates change. Raw and reference tables are mirrored from DuckDB (engines.mirror).
Warehouse tables are read from their folders: SQLGlot rewrites `schema.table` to a temporary view
over the folder (registered once per session, again after a write), so no catalog or metastore is
involved and the folder alone is the state.
"""
from __future__ import annotations

import datetime as dt
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from sqlglot import exp

from nbapipe.config import SCHEMAS, spark_master, spark_warehouse
from nbapipe.engines.base import Engine, EngineError
from nbapipe.engines.mirror import MANIFEST, mirror_tables
from nbapipe.engines.transpile import transpile
from nbapipe.processors.base import Processor

# SQL settings every session of ours needs (set on each session: newSession() copies only the
# SparkContext's conf, not what a getOrCreate() applied later).
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",                  # the warehouse's timestamps are naive UTC
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
}

# Writers to one table folder share its _temporary staging: one at a time per table. Each write
# bumps the folder's version, so every session re-reads a folder another session has written.
_TABLE_LOCKS: dict[Path, threading.Lock] = {}
_VERSIONS: dict[Path, int] = {}
_GUARD = threading.Lock()


def _table_lock(path: Path) -> threading.Lock:
    with _GUARD:
        return _TABLE_LOCKS.setdefault(path, threading.Lock())


def _bump(path: Path) -> None:
    with _GUARD:
        _VERSIONS[path] = _VERSIONS.get(path, 0) + 1


def spark_session(master: str | None = None, warehouse: Path | None = None):
    """The process's SparkSession (created once, reused: a JVM start costs seconds)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:
        raise EngineError("the Spark engine needs pyspark: pip install 'nbapipe[spark]'") from e
    master = master or spark_master()
    builder = (SparkSession.builder.master(master).appName("nbapipe").config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false"))     # no stage bars over our own output
    if warehouse:
        # Spark's own catalog folder (unused: tables are read by path) stays out of the cwd.
        builder = builder.config("spark.sql.warehouse.dir", str(warehouse))
    if master.startswith("local"):
        # Small data on few cores, where Spark's fixed costs dominate (measured on the two-week
        # parity window from a cold start: 148 s -> 130 s without whole-stage code generation,
        # -> 121 s with the JVM's quick C1 compiler only): 200 tasks per shuffle, compiling generated code for
        # every query and the optimizing JIT's compile threads cost more than they save.
        builder = (builder.config("spark.sql.shuffle.partitions", "4")
                   .config("spark.sql.codegen.wholeStage", "false")
                   .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m"))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return _configure(spark)


def _configure(spark):
    for k, v in SESSION_CONF.items():
        spark.conf.set(k, v)
    return spark


class SparkEngine(Engine):
    name = "spark"
    fingerprint_tag = "spark"

    def __init__(self, spark, root: Path, lease_store=None):
        self.spark, self.root = spark, Path(root)
        # The state store whose `table:<name>` leases serialise writers of a table across
        # processes and hosts (set by the runner's Spark run; None: this process only).
        self.lease_store = lease_store
        self._outputs: dict[str, Any] = {}      # materialized outputs, released on close
        self._views: dict[Path, int] = {}       # table folder -> version its view was read at

    @classmethod
    def for_home(cls, home: Path, master: str | None = None) -> "SparkEngine":
        root = spark_warehouse(home)
        return cls(spark_session(master, root), root)

    def mirror(self, wh) -> list[str]:
        """Copy changed raw/reference tables from the DuckDB warehouse `wh` to Parquet."""
        copied = mirror_tables(wh, self.root)
        for table in copied:
            _bump(self.path(table))
        return copied

    def has_mirror(self) -> bool:
        return (self.root / MANIFEST).exists()

    # --- SQL ----------------------------------------------------------------------------
    def path(self, qualified: str) -> Path:
        return self.root.joinpath(*qualified.split("."))

    def spark_sql(self, sql: str) -> str:
        """DuckDB SQL as Spark SQL over this warehouse's folders."""
        return transpile(sql, "spark", table=self._table_ref)

    def _table_ref(self, t: exp.Table) -> exp.Expression | None:
        if t.db not in SCHEMAS:
            return None
        ref = exp.Table(this=exp.to_identifier(self._view(f"{t.db}.{t.name}")))
        ref.set("alias", t.args.get("alias") or exp.TableAlias(this=exp.to_identifier(t.name)))
        return ref

    def _view(self, qualified: str) -> str:
        """The temp view over a table's folder, (re)registered when the folder changed: its
        schema is read once, not by every statement that names the table."""
        folder, name = self.path(qualified), qualified.replace(".", "__")
        version = _VERSIONS.get(folder, 0)
        if self._views.get(folder) != version:
            self.spark.read.parquet(str(folder)).createOrReplaceTempView(name)
            self._views[folder] = version
        return name

    def _df(self, sql: str, params: Sequence[Any] | None = None):
        return self.spark.sql(self.spark_sql(sql), args=list(params) if params else None)

    def tuples(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return [tuple(r) for r in self._df(sql, params).collect()]

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[dict]:
        return self._collect(self._df(sql, params))

    def query(self, sql: str) -> list[dict]:
        """A person's ad-hoc query in DuckDB's dialect, translated but not held to the
        processors' portable subset."""
        return self._collect(self.spark.sql(transpile(sql, "spark", table=self._table_ref, strict=False)))

    @staticmethod
    def _collect(df) -> list[dict]:
        return [dict(zip(df.columns, r)) for r in df.collect()]

    # --- tables -------------------------------------------------------------------------
    def table_exists(self, qualified: str) -> bool:
        return next(self.path(qualified).rglob("*.parquet"), None) is not None

    def columns(self, qualified: str) -> list[str]:
        return self.spark.table(self._view(qualified)).columns

    def confirm_slices(self, table: str, column: str, dates: set[dt.date]) -> set[dt.date]:
        # The folder can be deleted or copied apart from the ledger: trust what is on disk.
        folder = self.path(table)
        return {d for d in dates if (folder / f"{column}={d.isoformat()}").is_dir()}

    # --- running a processor ------------------------------------------------------------
    def cursor(self) -> "SparkEngine":
        # A new session shares the JVM and cache but has its own temp views (run_dates, ...).
        return SparkEngine(_configure(self.spark.newSession()), self.root, self.lease_store)

    def check_supported(self, p: Processor) -> None:
        if p.compute:
            raise EngineError(f"{p.name} is not one SELECT (it computes in Python, e.g. a model); "
                              f"the Spark engine runs SQL processors only: run it with --engine duckdb")

    def set_run(self, dates: list[dt.date], lookback_start: dt.date, run_id: str) -> None:
        self.spark.createDataFrame([(d,) for d in dates], "game_date date").createOrReplaceTempView("run_dates")
        self.spark.createDataFrame([(dates[0], dates[-1], lookback_start, run_id)],
                                   "start_date date, end_date date, lookback_start date, run_id string"
                                   ).createOrReplaceTempView("run_bounds")

    def create_view(self, name: str, sql: str) -> None:
        self.spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {self.spark_sql(sql)}")

    def materialize(self, out: str, sql: str) -> None:
        from pyspark.sql import functions as F
        from pyspark.sql.types import NullType
        df = self._df(sql)
        # Parquet has no NULL type; DuckDB gives an untyped NULL column INTEGER, so do we.
        df = df.select([F.col(f"`{f.name}`").cast("int").alias(f.name) if isinstance(f.dataType, NullType)
                        else F.col(f"`{f.name}`") for f in df.schema])
        df = df.persist()
        df.count()                   # computed once, here: every check and the write read the cache
        self._release(out)
        self._outputs[out] = df
        df.createOrReplaceTempView(out)

    def write_slices(self, p: Processor, out: str, dates: list[dt.date]) -> None:
        df = self._outputs[out] if out in self._outputs else self.spark.table(out)
        with self._writing(p.table) as folder:
            if self.table_exists(p.table):
                df = self._as_table(df, p.table)
            written = {r[0] for r in df.select(p.slice_column).distinct().collect()}
            self._remove(folder, p.slice_column, [d for d in dates if d not in written])
            if written:
                (df.repartition(p.slice_column).sortWithinPartitions(*p.key)
                   .write.mode("overwrite").option("partitionOverwriteMode", "dynamic")
                   .partitionBy(p.slice_column).parquet(str(folder)))
            _bump(folder)

    def _as_table(self, df, table: str):
        """The rows in the table's existing columns and types, as DuckDB inserts them: the
        first write fixes a table's schema (every slice file then agrees on it)."""
        from pyspark.sql import functions as F
        have = set(df.columns)
        return df.select([(F.col(f"`{f.name}`") if f.name in have else F.lit(None)).cast(f.dataType).alias(f.name)
                          for f in self.spark.table(self._view(table)).schema])

    @contextmanager
    def _writing(self, table: str) -> Iterator[Path]:
        """One writer per table folder (Spark's output committer stages under it): a lock among
        this process's threads, and the table's lease among processes and hosts."""
        folder = self.path(table)
        with _table_lock(folder):
            if self.lease_store is None:
                yield folder
                return
            from nbapipe.state import leases, open_state
            with open_state(self.lease_store) as st, leases.hold(st, f"table:{table}", f"spark write {table}"):
                yield folder

    @staticmethod
    def _remove(folder: Path, column: str, dates: list[dt.date]) -> None:
        for d in dates:
            shutil.rmtree(folder / f"{column}={d.isoformat()}", ignore_errors=True)

    def _release(self, out: str) -> None:
        old = self._outputs.pop(out, None)
        if old is not None:
            old.unpersist()

    def close(self) -> None:
        for out in list(self._outputs):
            self._release(out)

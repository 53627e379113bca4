"""Engines that run the processors' SQL: DuckDB (the embedded default) and Spark (optional
extra `nbapipe[spark]`), behind one interface (engines.base). SQL reaches engines other than
DuckDB through `transpile` (SQLGlot)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from nbapipe.config import engine_name
from nbapipe.engines.base import ENGINES, Engine, EngineError


def as_engine(wh) -> Engine:
    """The engine for what a caller holds: an Engine as is, a DuckDB warehouse wrapped."""
    if isinstance(wh, Engine):
        return wh
    from nbapipe.engines.duckdb import DuckDBEngine
    return DuckDBEngine.wrap(wh)


@contextmanager
def engine_session(ws, wh, name: str | None = None, mirror: bool = True) -> Iterator[Engine]:
    """The engine a run uses (--engine, else the home's setting), over the open DuckDB warehouse
    `wh`: DuckDB is that warehouse; Spark first mirrors its raw and reference tables (not with
    mirror=False: a tool that reads only processor outputs, which Spark writes itself)."""
    try:
        name = engine_name(name)
    except ValueError as e:
        raise EngineError(str(e)) from None
    if name == "duckdb":
        yield as_engine(wh)
        return
    from nbapipe.engines.spark import SparkEngine
    eng = SparkEngine.for_home(ws.home)
    try:
        if mirror:
            eng.mirror(wh)
        yield eng
    finally:
        eng.close()


__all__ = ["ENGINES", "Engine", "EngineError", "as_engine", "engine_session"]

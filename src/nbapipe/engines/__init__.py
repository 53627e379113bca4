"""Engines that run the processors' SQL: DuckDB (the embedded default) and Spark (optional
extra `nbapipe[spark]`). SQL reaches other engines through `transpile` (SQLGlot)."""

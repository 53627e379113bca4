"""Phase 3 analytics processors (one .py + .sql each)."""

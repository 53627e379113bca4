"""Phase 4 precompute processors (one .py + .sql each)."""

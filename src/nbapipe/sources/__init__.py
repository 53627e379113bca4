"""Phase 2 loaders, one module per input format. `all_loaders()` is the registry."""
from __future__ import annotations

from functools import lru_cache

from nbapipe.sources.base import IngestError, Loader, LoadResult


@lru_cache(maxsize=1)
def all_loaders() -> tuple[Loader, ...]:
    from nbapipe.sources import bbref, nba_api, shots
    modules = [bbref, nba_api, shots]
    for optional in ("props", "game_odds", "injuries", "crosswalks", "nbac_json", "bdl_json",
                     "bigdataball", "odds_api_json", "gamebook_json"):
        try:
            modules.append(__import__(f"nbapipe.sources.{optional}", fromlist=["LOADERS"]))
        except ModuleNotFoundError as e:
            if e.name != f"nbapipe.sources.{optional}":
                raise
    loaders = tuple(l for m in modules for l in m.LOADERS)
    names = [l.name for l in loaders]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise RuntimeError(f"duplicate loader names: {sorted(dupes)}")
    return loaders


def loader_by_name(name: str) -> Loader:
    for l in all_loaders():
        if l.name == name:
            return l
    known = ", ".join(sorted(l.name for l in all_loaders()))
    raise KeyError(f"unknown format {name!r}; known formats: {known}")


__all__ = ["IngestError", "Loader", "LoadResult", "all_loaders", "loader_by_name"]

"""The processor registry and its DAG."""
from __future__ import annotations

import importlib
from functools import lru_cache

from nbapipe.processors.base import Input, Processor, processor

# Modules in a phase are listed in dependency order (the DAG below checks it).
MODULES = {
    3: ["team_offense_game_summary", "team_defense_game_summary", "upcoming_team_game_context",
        "player_game_summary", "upcoming_player_game_context"],
    4: ["team_defense_zone_analysis", "player_shot_zone_analysis", "player_composite_factors",
        "player_daily_cache", "ml_feature_store"],
    5: ["player_prop_predictions", "prediction_accuracy"],
}
PACKAGES = {3: "nbapipe.processors.analytics", 4: "nbapipe.processors.precompute",
            5: "nbapipe.processors.predictions"}


@lru_cache(maxsize=1)
def all_processors() -> dict[str, Processor]:
    out: dict[str, Processor] = {}
    for phase, names in MODULES.items():
        for name in names:
            try:
                mod = importlib.import_module(f"{PACKAGES[phase]}.{name}")
            except ModuleNotFoundError as e:
                if e.name == f"{PACKAGES[phase]}.{name}":
                    continue          # a phase not built yet
                raise
            p = mod.PROCESSOR
            assert p.name == name and p.phase == phase, f"{name}: metadata does not match its module"
            out[name] = p
    _check_dag(out)
    return out


def phases() -> list[int]:
    return sorted({p.phase for p in all_processors().values()})


def get(name: str) -> Processor:
    procs = all_processors()
    if name not in procs:
        raise KeyError(f"unknown processor {name!r}; known: {', '.join(procs)}")
    return procs[name]


def _check_dag(procs: dict[str, Processor]) -> None:
    order = {n: i for i, n in enumerate(procs)}
    for p in procs.values():
        for up in p.upstream:
            if up not in procs:
                raise RuntimeError(f"{p.name} depends on unknown processor {up}")
            if order[up] >= order[p.name]:
                raise RuntimeError(f"{p.name} is listed before its upstream {up}")


def topo_levels(names: list[str]) -> list[list[str]]:
    """Group processors into levels that can run concurrently (each after all of its
    upstream processors within `names`)."""
    procs = all_processors()
    level: dict[str, int] = {}
    for n in procs:                       # registry order is a topological order
        if n in names:
            level[n] = 1 + max((level[u] for u in procs[n].upstream if u in level), default=-1)
    out: list[list[str]] = []
    for n, l in level.items():
        while len(out) <= l:
            out.append([])
        out[l].append(n)
    return out


def with_required_upstream(names: list[str]) -> list[str]:
    """`names` plus, transitively, their required upstream processors of the same phase."""
    procs = all_processors()
    want = set(names)
    changed = True
    while changed:
        changed = False
        for n in list(want):
            for up in procs[n].required_upstream:
                if procs[up].phase == procs[n].phase and up not in want:
                    want.add(up)
                    changed = True
    return [n for n in procs if n in want]


__all__ = ["Input", "Processor", "processor", "all_processors", "get", "phases", "topo_levels",
           "with_required_upstream"]

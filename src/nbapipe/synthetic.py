"""A small deterministic sample league in the bbref/ CSV format, for machines without the
real data folder. Everything it produces is labelled synthetic: the files' folder, the state
store flag that every command prints, and the quickstart summary."""
from __future__ import annotations

import csv
import gzip
import io
import random
from datetime import date, timedelta
from pathlib import Path

from nbapipe.state import StateStore

TEAMS = ["BOS", "BKN", "NYK", "PHI", "MIL", "CHI", "LAL", "GSW"]
BBREF = {"BKN": "BRK"}
SEASON_START = date(2021, 10, 19)
DAYS = 42
ROSTER = 10
FIRST = ["Alex", "Jordan", "Casey", "Riley", "Morgan", "Taylor", "Jamie", "Avery", "Quinn", "Drew"]


def is_synthetic(st: StateStore) -> bool:
    return st.scalar("SELECT value FROM meta WHERE key = 'dataset'") == "synthetic"


def mark(st: StateStore, synthetic: bool) -> None:
    with st.tx() as con:
        st.set_meta(con, "dataset", "synthetic" if synthetic else "real")


def _players(team: str) -> list[tuple[str, str]]:
    """(bbref id, name) per roster slot; the names say they are synthetic."""
    return [(f"syn{team.lower()}{i:02d}", f"{FIRST[i]} Synthetic{team.title()}") for i in range(ROSTER)]


def generate(folder: Path, seed: int = 2021) -> Path:
    """Write games/player_box/team_box/line_scores/inactives CSVs under folder/bbref."""
    rng = random.Random(seed)
    out = folder / "synthetic-sample-league" / "bbref"
    out.mkdir(parents=True, exist_ok=True)
    games, players, teams, lines, inactives = [], [], [], [], []
    seq = 0
    for day in range(DAYS):
        d = SEASON_START + timedelta(days=day)
        if day % 3 == 2:        # some dates without games, like the real calendar
            continue
        order = TEAMS[:]
        rng.shuffle(order)
        for away, home in zip(order[0::2], order[1::2]):
            seq += 1
            nba_id = f"00221{seq:05d}"
            bb_id = f"{d:%Y%m%d}0{BBREF.get(home, home)}"
            box = {t: _team_game(rng, t) for t in (away, home)}
            pts = {t: sum(p["pts"] for p in box[t]) for t in box}
            if pts[away] == pts[home]:
                box[home][0]["pts"] += 1
                box[home][0]["fg"] += 1
                box[home][0]["fga"] += 1
                pts[home] += 1
            games.append({"bbref_game_id": bb_id, "nba_game_id": nba_id, "season": "2021-22",
                          "game_type": "regular", "game_date": d.isoformat(), "start_time_et": "7:30 PM",
                          "away_team": BBREF.get(away, away), "home_team": BBREF.get(home, home),
                          "away_pts": pts[away], "home_pts": pts[home], "overtime_periods": 0,
                          "arena": "Synthetic Arena"})
            for t, opp, ha in ((away, home, "away"), (home, away, "home")):
                tot = {k: sum(p[k] for p in box[t]) for k in box[t][0] if k not in ("id", "name", "mp", "dnp")}
                for i, p in enumerate(box[t]):
                    row = {"bbref_game_id": bb_id, "nba_game_id": nba_id, "game_type": "regular",
                           "game_date": d.isoformat(), "season": "2021-22", "team": BBREF.get(t, t),
                           "team_nba": t, "opponent": BBREF.get(opp, opp), "home_away": ha,
                           "team_pts": pts[t], "opp_pts": pts[opp], "bbref_player_id": p["id"],
                           "player": p["name"], "starter": int(i < 5), "row_order": i + 1,
                           "status": "Did Not Play" if p["dnp"] else "Played",
                           "mp": "" if p["dnp"] else _clock(p["mp"]),
                           "minutes": "" if p["dnp"] else p["mp"]}
                    for k in ("fg", "fga", "fg3", "fg3a", "ft", "fta", "orb", "drb", "ast", "stl",
                              "blk", "tov", "pf", "pts"):
                        row[k] = "" if p["dnp"] else p[k]
                    row["trb"] = "" if p["dnp"] else p["orb"] + p["drb"]
                    players.append(row)
                teams.append({"bbref_game_id": bb_id, "nba_game_id": nba_id, "game_type": "regular",
                              "game_date": d.isoformat(), "season": "2021-22", "team": BBREF.get(t, t),
                              "team_nba": t, "opponent": BBREF.get(opp, opp), "home_away": ha,
                              "pts_for": pts[t], "pts_against": pts[opp], "win": int(pts[t] > pts[opp]),
                              "mp": 240, **{k: tot[k] for k in ("fg", "fga", "fg3", "fg3a", "ft", "fta",
                                                                "orb", "drb", "ast", "stl", "blk", "tov", "pf")},
                              "trb": tot["orb"] + tot["drb"], "pts": pts[t]})
                q = _split(rng, pts[t])
                lines.append({"bbref_game_id": bb_id, "nba_game_id": nba_id, "game_type": "regular",
                              "game_date": d.isoformat(), "team": BBREF.get(t, t), "team_nba": t,
                              "total": pts[t], "p1": q[0], "p2": q[1], "p3": q[2], "p4": q[3]})
                inactives.append({"bbref_game_id": bb_id, "nba_game_id": nba_id, "game_type": "regular",
                                  "game_date": d.isoformat(), "team": BBREF.get(t, t), "team_nba": t,
                                  "bbref_player_id": f"syn{t.lower()}ina", "player": f"Inactive Synthetic{t.title()}"})
    for name, rows in (("games", games), ("player_box", players), ("team_box", teams),
                       ("line_scores", lines), ("inactives", inactives)):
        # mtime=0: the same league gives byte-identical files (re-ingest sees identical content).
        with gzip.GzipFile(out / f"{name}.csv.gz", "wb", mtime=0) as raw, \
                io.TextIOWrapper(raw, encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rows)
    return out.parent


def _team_game(rng: random.Random, team: str) -> list[dict]:
    rows = []
    for i, (pid, name) in enumerate(_players(team)):
        dnp = i == ROSTER - 1 and rng.random() < 0.5
        fga = rng.randint(8, 22) if i < 5 else rng.randint(1, 10)
        fg = rng.randint(fga // 3, (2 * fga) // 3)
        fg3a = rng.randint(0, fga // 2)
        fg3 = rng.randint(0, min(fg, fg3a))
        fta = rng.randint(0, 8)
        ft = rng.randint(fta // 2, fta)
        mp = round(rng.uniform(28, 38) if i < 5 else rng.uniform(8, 24), 3)
        rows.append({"id": pid, "name": name, "dnp": dnp, "mp": mp, "fg": fg, "fga": fga, "fg3": fg3,
                     "fg3a": fg3a, "ft": ft, "fta": fta, "orb": rng.randint(0, 3),
                     "drb": rng.randint(0, 8), "ast": rng.randint(0, 8), "stl": rng.randint(0, 2),
                     "blk": rng.randint(0, 2), "tov": rng.randint(0, 4), "pf": rng.randint(0, 5),
                     "pts": 2 * (fg - fg3) + 3 * fg3 + ft})
        if dnp:
            rows[-1].update({k: 0 for k in ("fg", "fga", "fg3", "fg3a", "ft", "fta", "orb", "drb",
                                             "ast", "stl", "blk", "tov", "pf", "pts")})
    return rows


def _clock(minutes: float) -> str:
    """Decimal minutes as the box score's 'MM:SS'."""
    seconds = round(minutes * 60)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _split(rng: random.Random, total: int) -> list[int]:
    cuts = sorted(rng.randint(0, total) for _ in range(3))
    return [cuts[0], cuts[1] - cuts[0], cuts[2] - cuts[1], total - cuts[2]]

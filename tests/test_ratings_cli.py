"""`timbre rate TRACK [STARS]`: set, show and clear star ratings from the command line."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from player.db import connect
from player.models import TrackId
from tests.library_rows import add_track
from ui.cli import run

TIMBRE = Path(sys.executable).parent / "timbre"


@pytest.fixture
def conn(db_path: Path) -> sqlite3.Connection:
    return connect(db_path)


@pytest.fixture
def tracks(conn: sqlite3.Connection) -> list[TrackId]:
    return [add_track(conn, f"/m/{name}.flac", title=name.title(), artist="Artist")
            for name in ("blue", "green", "red")]


def stored(conn: sqlite3.Connection) -> dict[int, int]:
    return dict(conn.execute("SELECT track_id, stars FROM ratings").fetchall())


def test_rate_show_and_clear_by_id_and_by_path(conn: sqlite3.Connection, tracks: list[TrackId],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    blue, green, _ = tracks
    assert run(["rate", str(blue)]) == 0
    assert capsys.readouterr().out == f"Track {blue}: not rated.\n"

    assert run(["rate", str(blue), "4"]) == 0
    assert capsys.readouterr().out == f"Rated track {blue} 4 stars.\n"
    assert run(["rate", "/m/green.flac", "1"]) == 0  # a path names a track like an id
    assert capsys.readouterr().out == f"Rated track {green} 1 star.\n"
    assert stored(conn) == {blue: 4, green: 1}

    assert run(["rate", "/m/blue.flac"]) == 0
    assert capsys.readouterr().out == f"Track {blue}: 4 stars.\n"
    assert run(["rate", str(blue), "5", "--json"]) == 0  # rating again replaces
    assert json.loads(capsys.readouterr().out) == {"track_id": blue, "rating": 5}

    assert run(["rate", str(blue), "0"]) == 0
    assert capsys.readouterr().out == f"Cleared the rating of track {blue}.\n"
    assert run(["rate", str(blue), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"track_id": blue, "rating": 0}
    assert stored(conn) == {green: 1}


def test_a_smart_playlist_follows_the_ratings(tracks: list[TrackId],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    blue, green, red = tracks
    rules = {"match": "all", "rules": [{"field": "rating", "op": ">=", "value": 4}]}
    assert run(["playlist", "create", "Top rated", "--rules", json.dumps(rules)]) == 0
    for track, stars in ((blue, "5"), (green, "2"), (red, "4")):
        assert run(["rate", str(track), stars]) == 0
    capsys.readouterr()
    assert run(["playlist", "show", "Top rated", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert sorted(t["id"] for t in shown["tracks"]) == sorted([blue, red])


def test_bad_input_is_refused_and_changes_nothing(conn: sqlite3.Connection,
                                                  tracks: list[TrackId],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    blue = tracks[0]
    assert run(["rate", str(blue), "3"]) == 0
    capsys.readouterr()
    assert run(["rate", "/no/such/file.flac", "5"]) == 1
    assert "no track '/no/such/file.flac'" in capsys.readouterr().err
    assert run(["rate", "999", "5"]) == 1
    for stars in ("6", "-1", "three"):
        with pytest.raises(SystemExit) as exit_info:
            run(["rate", str(blue), stars])
        assert exit_info.value.code == 2
        assert "STARS" in capsys.readouterr().err
    assert stored(conn) == {blue: 3}


def test_the_installed_command_rates(conn: sqlite3.Connection, tracks: list[TrackId],
                                     db_path: Path) -> None:
    red = tracks[2]
    done = subprocess.run([str(TIMBRE), "--db", str(db_path), "rate", "/m/red.flac", "2"],
                          capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout == f"Rated track {red} 2 stars.\n"
    shown = subprocess.run([str(TIMBRE), "rate", str(red), "--json", "--db", str(db_path)],
                           capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(shown.stdout) == {"track_id": red, "rating": 2}
    assert stored(conn) == {red: 2}

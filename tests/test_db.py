"""The database layer: migrations, WAL, a newer schema refused untouched, history stats."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from player.db import DatabaseTooNew, connect, schema_version, transaction
from player.history import is_skip, iter_plays, record_play
from player.history_import import refresh_track_stats
from player.models import Play, TrackId
from player.schema import MIGRATIONS, SCHEMA_VERSION


def _add_track(conn: sqlite3.Connection, path: str, **cols: object) -> TrackId:
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO tracks (path, path_bytes, size, mtime_ns, title, artist, added_at, "
            "updated_at, duration_s) VALUES (?,?,?,?,?,?,?,?,?)",
            (path, path.encode(), 1, 1, cols.get("title", path), cols.get("artist"), 0, 0,
             cols.get("duration_s", 200.0)),
        )
    return TrackId(int(cur.lastrowid or 0))


def test_new_database_is_wal_and_current(db_path: Path) -> None:
    conn = connect(db_path)
    assert schema_version(conn) == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_newer_database_is_refused_and_not_modified(db_path: Path) -> None:
    connect(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()
    with pytest.raises(DatabaseTooNew, match="Upgrade Timbre"):
        connect(db_path)
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before


def test_failed_migration_leaves_previous_version(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import player.db as db_module

    broken = [["CREATE TABLE half_done (x)", "THIS IS NOT SQL"]]
    monkeypatch.setattr(db_module, "MIGRATIONS", broken)
    monkeypatch.setattr(db_module, "SCHEMA_VERSION", 1)
    with pytest.raises(sqlite3.OperationalError):
        connect(db_path)
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 0
    tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master")}
    assert "half_done" not in tables


def test_plays_update_track_stats(db_path: Path) -> None:
    conn = connect(db_path)
    tid = _add_track(conn, "/m/a.flac", title="A", artist="X")
    record_play(conn, Play(track_id=tid, started_at=100.0, ended_at=300.0, heard_ms=200_000,
                           fraction=1.0, end_reason="finished"))
    record_play(conn, Play(track_id=tid, started_at=50.0, ended_at=55.0, heard_ms=5_000,
                           fraction=0.02, end_reason="skipped"))
    row = conn.execute("SELECT play_count, skip_count, first_played, last_played, heard_ms "
                       "FROM track_stats WHERE track_id=?", (tid,)).fetchone()
    assert row == (1, 1, 50.0, 100.0, 205_000)
    plays = list(iter_plays(conn))
    assert [p.started_at for p in plays] == [50.0, 100.0]
    assert plays[0].title == "A" and plays[0].artist == "X"


# (end reason, fraction heard, seconds heard, counts as a play)
_PLAYS = [("finished", 1.0, 200, True), ("skipped", 0.1, 20, False), ("failed", 0.0, 0, False),
          ("stopped", 0.02, 4, False),  # quit 4 s in: in the history, not a play
          ("closed", 0.6, 120, True), ("closed", 0.1, 250, True),  # 4 minutes of a long one
          ("stopped", 0.5, 100, True), (None, None, None, True)]  # imported: a play


def test_a_play_counts_when_it_ends_or_half_or_four_minutes_were_heard(db_path: Path) -> None:
    conn = connect(db_path)
    tids = [_add_track(conn, f"/m/{i}.flac") for i in range(len(_PLAYS))]
    with transaction(conn):  # as the player and the importer write them
        for tid, (reason, fraction, heard, _) in zip(tids, _PLAYS, strict=True):
            conn.execute("INSERT INTO plays (track_id, started_at, end_reason, fraction, heard_ms) "
                         "VALUES (?, 10, ?, ?, ?)", (tid, reason, fraction, heard and heard * 1000))
    counted = [conn.execute("SELECT play_count FROM track_stats WHERE track_id = ?",
                            (t,)).fetchone()[0] for t in tids]
    assert counted == [int(c) for *_, c in _PLAYS]
    # The recount after an import (history_import) follows the same rule as the trigger.
    with transaction(conn):
        conn.execute("DELETE FROM track_stats")
        refresh_track_stats(conn, tids)
    assert [r[0] for r in conn.execute("SELECT play_count FROM track_stats ORDER BY track_id")] \
        == counted


def test_upgrading_recounts_the_plays(db_path: Path) -> None:
    raw = sqlite3.connect(db_path)  # a library of schema 3, whose trigger counted every play
    for statement in [s for m in MIGRATIONS[:3] for s in m]:
        raw.execute(statement)
    raw.execute("PRAGMA user_version = 3")
    raw.execute("INSERT INTO tracks (path, path_bytes, size, mtime_ns, title, added_at, "
                "updated_at) VALUES ('/m/a.flac', X'00', 1, 1, 'A', 0, 0)")
    for reason, fraction, heard, _ in _PLAYS:
        raw.execute("INSERT INTO plays (track_id, started_at, end_reason, fraction, heard_ms) "
                    "VALUES (1, 10, ?, ?, ?)", (reason, fraction, heard and heard * 1000))
    raw.commit()
    assert raw.execute("SELECT play_count FROM track_stats").fetchone()[0] == 6
    raw.close()
    conn = connect(db_path)
    assert schema_version(conn) == SCHEMA_VERSION
    assert conn.execute("SELECT play_count, skip_count FROM track_stats").fetchone() == (
        sum(c for *_, c in _PLAYS), 1)


def test_history_survives_track_removal(db_path: Path) -> None:
    conn = connect(db_path)
    tid = _add_track(conn, "/m/b.flac", title="Kept", artist="Y")
    record_play(conn, Play(track_id=tid, started_at=1.0, heard_ms=1000, fraction=1.0))
    with transaction(conn):
        conn.execute("DELETE FROM tracks WHERE id=?", (tid,))
    plays = list(iter_plays(conn, matched_only=False))
    assert len(plays) == 1 and plays[0].track_id is None and plays[0].title == "Kept"


@pytest.mark.parametrize(
    ("heard", "duration", "by_user", "expected"),
    [(10, 200, True, True), (150, 200, True, False), (250, 1000, True, False),
     (10, 200, False, False), (5, None, True, True)],
)
def test_skip_rule(heard: float, duration: float | None, by_user: bool, expected: bool) -> None:
    assert is_skip(heard, duration, by_user) is expected

"""The database layer: migrations, WAL, a newer schema refused untouched, history stats."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from player.db import DatabaseTooNew, connect, schema_version, transaction
from player.history import is_skip, iter_plays, record_play
from player.models import Play, TrackId
from player.schema import SCHEMA_VERSION


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

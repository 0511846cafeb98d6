"""Library rows written with SQL, for tests of playlists and history import.

The scanner fills the same columns from real files; these tests are about what is done
with the rows, so they write them directly (and a few tests also scan real files).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

from player.db import transaction
from player.models import TrackId
from recommender.features import FEATURES_VERSION


def add_root(conn: sqlite3.Connection, path: Path) -> int:
    """Record a library folder, as `timbre scan` does."""
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO roots (path, path_bytes, added_at) VALUES (?, ?, ?)",
            (str(path), os.fsencode(path), time.time()),
        )
    return int(cur.lastrowid or 0)


def add_track(
    conn: sqlite3.Connection,
    path: Path | str,
    *,
    title: str,
    artist: str | None = None,
    album: str | None = None,
    genre: str | None = None,
    duration_s: float | None = 200.0,
    added_at: float | None = None,
    mb_recording_id: str | None = None,
    **columns: object,
) -> TrackId:
    """Insert one track row and return its id; extra columns are written as given."""
    now = time.time()
    cols: dict[str, object] = {
        "path": str(path), "path_bytes": os.fsencode(str(path)), "size": 1, "mtime_ns": 1,
        "title": title, "artist": artist,
        "artists": json.dumps([a.strip() for a in artist.split(";")]) if artist else None,
        "album": album, "genre": genre,
        "genres": json.dumps([g.strip() for g in genre.split(";")]) if genre else None,
        "duration_s": duration_s, "added_at": now if added_at is None else added_at,
        "updated_at": now, "mb_recording_id": mb_recording_id,
    }
    cols.update(columns)
    names = ", ".join(cols)
    with transaction(conn):
        cur = conn.execute(
            f"INSERT INTO tracks ({names}) VALUES ({', '.join('?' * len(cols))})",
            list(cols.values()),
        )
    return TrackId(int(cur.lastrowid or 0))


def add_features(conn: sqlite3.Connection, track_id: TrackId, **descriptors: float | str) -> None:
    """Store descriptor columns of the features table for one track (a dummy vector)."""
    cols = {"track_id": int(track_id), "version": FEATURES_VERSION, "vector": b"\0\0\0\0",
            "analyzed_at": time.time(), **descriptors}
    with transaction(conn):
        conn.execute(
            f"INSERT OR REPLACE INTO features ({', '.join(cols)}) "
            f"VALUES ({', '.join('?' * len(cols))})",
            list(cols.values()),
        )

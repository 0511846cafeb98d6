"""The library's read side: roots, full-text search, track rows and scan errors.

The window and the CLI read the library through these functions; the scanner
(player/scanner.py) is the only writer of tracks.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from player.db import transaction
from player.models import TrackId

_WORD = re.compile(r"\w+", re.UNICODE)
_JSON_COLUMNS = ("artists", "genres")
_HIDDEN_COLUMNS = ("path_bytes",)


@dataclass(frozen=True)
class Root:
    """A library folder the user added."""

    id: int
    path: str  # for display
    path_bytes: bytes
    last_scan_at: float | None
    last_scan_status: str | None  # ok | missing | cancelled
    track_count: int


def display_path(path: bytes | str) -> str:
    """Return a path for display: valid UTF-8 as is, other bytes escaped (\\xff)."""
    if isinstance(path, str):
        path = os.fsencode(path)
    return path.decode("utf-8", "backslashreplace")


def root_key(path: str | bytes | os.PathLike[str]) -> bytes:
    """Return the normalised absolute bytes path a root is stored under."""
    return os.fsencode(os.path.abspath(os.fsencode(path)))


def _under(column: str) -> str:
    """Return SQL true when the bytes path in column lies under the folder bound as ?1."""
    # substr() and length() count bytes on a BLOB, so this is a byte-prefix test that
    # LIKE could not do safely (% and _ are legal in file names).
    return f"substr({column}, 1, length(?1)) = ?1"


def add_root(conn: sqlite3.Connection, path: str | bytes | os.PathLike[str]) -> int:
    """Remember a library folder (once); return its id.

    Tracks left behind when a folder was removed (remove_root) come back with it, with
    their plays, likes and features: they join the root and the scan that follows checks
    them like any other file.
    """
    key = root_key(path)
    with transaction(conn):
        conn.execute(
            "INSERT INTO roots (path, path_bytes, added_at) VALUES (?, ?, ?) "
            "ON CONFLICT(path_bytes) DO NOTHING",
            (display_path(key), key, time.time()),
        )
        row = conn.execute("SELECT id FROM roots WHERE path_bytes = ?", (key,)).fetchone()
        conn.execute(
            f"UPDATE tracks SET root_id = ?2, missing = 0 WHERE root_id IS NULL "
            f"AND {_under('path_bytes')}", (key.rstrip(b"/") + b"/", int(row[0])))
    return int(row[0])


def remove_root(conn: sqlite3.Connection, root_id: int) -> int:
    """Take a folder out of the library; return how many tracks left the library with it.

    Its tracks are kept but hidden, as the tracks of an unmounted folder are: they leave
    the song lists, search and recommendations, while their plays (the listening
    history), likes, playlists and features stay, and come back if the folder is added
    again. Tracks that also lie under another library folder stay in the library under
    that one. Files on disk are never touched.
    """
    with transaction(conn):
        row = conn.execute("SELECT path_bytes FROM roots WHERE id = ?", (root_id,)).fetchone()
        if row is None:
            return 0
        # Nested folders: the innermost other root that holds a track takes it over.
        others = conn.execute(
            "SELECT id, path_bytes FROM roots WHERE id != ? ORDER BY length(path_bytes) DESC",
            (root_id,)).fetchall()
        for other_id, other in others:
            conn.execute(
                f"UPDATE tracks SET root_id = ?2 WHERE root_id = ?3 AND {_under('path_bytes')}",
                (bytes(other).rstrip(b"/") + b"/", other_id, root_id))
        gone = conn.execute(
            "UPDATE tracks SET missing = 1, root_id = NULL WHERE root_id = ?", (root_id,)
        ).rowcount
        # Read errors of its files would be listed by `timbre errors` for ever.
        prefix = bytes(row[0]).rstrip(b"/") + b"/"
        if not any(prefix.startswith(bytes(o).rstrip(b"/") + b"/") for _i, o in others):
            conn.execute(f"DELETE FROM scan_errors WHERE {_under('path_bytes')}", (prefix,))
        conn.execute("DELETE FROM roots WHERE id = ?", (root_id,))
    return int(gone)


def missing_tracks(conn: sqlite3.Connection, ids: Iterable[int]) -> set[TrackId]:
    """Return those of ids that are not in the library now (removed or unmounted)."""
    wanted = sorted({int(i) for i in ids})
    gone: set[TrackId] = set()
    for start in range(0, len(wanted), 500):  # SQLite's limit on bound parameters
        chunk = wanted[start:start + 500]
        gone.update(TrackId(int(r[0])) for r in conn.execute(
            f"SELECT id FROM tracks WHERE missing = 1 AND id IN ({','.join('?' * len(chunk))})",
            chunk))
    return gone


def missing_reason(conn: sqlite3.Connection, track: int) -> str | None:
    """Say why a track that has a row is not in the library now, or None when it is."""
    row = conn.execute(
        "SELECT t.title, t.artist, t.missing, r.path FROM tracks t "
        "LEFT JOIN roots r ON r.id = t.root_id WHERE t.id = ?", (int(track),)).fetchone()
    if row is None or not row[2]:
        return None
    title, artist, _, root = row
    name = f"\u201c{title}\u201d" + (f" by {artist}" if artist else "")
    if root is None:
        return (f"track {track} ({name}) is not in the library now: its folder was removed "
                "(adding the folder again brings it back, with its plays and likes)")
    return (f"track {track} ({name}) is not in the library now: its folder {root} was not "
            "found at the last scan (a drive that is not mounted?)")


def find_root(conn: sqlite3.Connection, path: str | bytes | os.PathLike[str]) -> int | None:
    """Return the id of the library folder at path, or None."""
    row = conn.execute("SELECT id FROM roots WHERE path_bytes = ?", (root_key(path),)).fetchone()
    return None if row is None else int(row[0])


def list_roots(conn: sqlite3.Connection) -> list[Root]:
    """Return the library folders, in the order they were added."""
    rows = conn.execute(
        """SELECT r.id, r.path, r.path_bytes, r.last_scan_at, r.last_scan_status,
                  (SELECT count(*) FROM tracks t WHERE t.root_id = r.id)
           FROM roots r ORDER BY r.id"""
    )
    return [Root(int(i), p, bytes(pb), at, status, int(n)) for i, p, pb, at, status, n in rows]


def fts_query(text: str) -> str | None:
    """Turn user text into a safe FTS5 query: every word, as a prefix, all required.

    Quotes, operators (AND, NEAR, -, ^, *, :) and parentheses in the text are plain
    text here: only runs of letters and digits survive, each quoted.
    """
    words = _WORD.findall(text)
    if not words:
        return None
    return " ".join(f'"{word}"*' for word in words[:32])


def search(conn: sqlite3.Connection, query: str, limit: int = 200) -> list[TrackId]:
    """Return the ids of tracks matching every word of query (prefixes), best first.

    Matches title, artist, album, album artist, genre and composer, ignoring case and
    accents ("beyonce" finds "Beyoncé").
    """
    match = fts_query(query)
    if match is None:
        return []
    # Tracks of a removed or unmounted folder (missing) are not in the library.
    rows = conn.execute(
        "SELECT f.rowid FROM tracks_fts AS f JOIN tracks AS t ON t.id = f.rowid "
        "WHERE tracks_fts MATCH ? AND t.missing = 0 ORDER BY f.rank LIMIT ?",
        (match, limit),
    )
    return [TrackId(int(r[0])) for r in rows]


def track_columns(conn: sqlite3.Connection) -> list[str]:
    """Return the names of the `tracks` columns shown to users (all but path_bytes)."""
    return [r[1] for r in conn.execute("PRAGMA table_info(tracks)")
            if r[1] not in _HIDDEN_COLUMNS]


def _row_dict(columns: list[str], row: tuple[Any, ...]) -> dict[str, Any]:
    item = dict(zip(columns, row, strict=True))
    for name in _JSON_COLUMNS:
        if name in item:
            item[name] = json.loads(item[name]) if item[name] else []
    return item


def track_rows(conn: sqlite3.Connection, ids: list[TrackId] | None = None) -> list[dict[str, Any]]:
    """Return tracks as dicts keyed by column name (artists/genres as lists).

    All tracks ordered by id, or the given ids in their order.
    """
    columns = track_columns(conn)
    select = f"SELECT {', '.join(columns)} FROM tracks"
    if ids is None:
        return [_row_dict(columns, row) for row in conn.execute(f"{select} ORDER BY id")]
    by_id: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in conn.execute(f"{select} WHERE id IN ({','.join('?' * len(chunk))})", chunk):
            item = _row_dict(columns, row)
            by_id[item["id"]] = item
    return [by_id[i] for i in ids if i in by_id]


def find_track(conn: sqlite3.Connection, ref: str) -> TrackId | None:
    """Return the id of a track given as an id or a file path (relative paths resolve)."""
    text = ref.strip()
    if text.isdigit():
        row = conn.execute("SELECT id FROM tracks WHERE id = ?", (int(text),)).fetchone()
        if row:
            return TrackId(row[0])
    for cand in _path_candidates(text):
        row = conn.execute("SELECT id FROM tracks WHERE path_bytes = ? OR path = ?",
                           (os.fsencode(cand), cand)).fetchone()
        if row:
            return TrackId(row[0])
    return None


def no_track_reason(conn: sqlite3.Connection, ref: str) -> str:
    """Say why find_track(conn, ref) found nothing, in words the user can act on."""
    text = ref.strip()
    for cand in _path_candidates(text):
        row = conn.execute("SELECT reason FROM scan_errors WHERE path = ?", (cand,)).fetchone()
        if row:
            return f"{text} is not in the library: the scan could not read it ({row[0]})"
    if any(os.path.isfile(cand) for cand in _path_candidates(text)):
        return f"{text} is not in the library; add its folder with `timbre scan FOLDER`"
    if text.isdigit():
        return f"no track with id {text} in the library"
    return f"no track {text!r} in the library (give a track id or a library file's path)"


def _path_candidates(text: str) -> list[str]:
    """Return text as given, absolute, and with symlinks resolved (a library folder may
    be reached through a link, and the scan stores the paths it walked)."""
    candidates = [text, os.path.abspath(os.path.expanduser(text))]
    try:
        candidates.append(str(Path(text).expanduser().resolve()))
    except (OSError, RuntimeError):
        pass
    return list(dict.fromkeys(candidates))


def scan_errors(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Return the files the last scans could not read: path, reason, at."""
    return [
        {"path": path, "reason": reason, "at": at}
        for path, reason, at in conn.execute(
            "SELECT path, reason, at FROM scan_errors ORDER BY path")
    ]


def track_count(conn: sqlite3.Connection) -> int:
    """Return how many tracks the library holds."""
    return int(conn.execute("SELECT count(*) FROM tracks").fetchone()[0])

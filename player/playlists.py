"""Playlists stored in the library: manual (ordered tracks), smart (rules), generated.

Manual and generated playlists keep their tracks in playlist_tracks with positions
0..n-1; every change rewrites those positions in one transaction, so they stay dense
and a crash leaves either the old or the new order. Smart playlists keep only their
rules (see player/smart_rules.py) and are evaluated each time they are read.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NewType

from player.db import transaction
from player.models import TrackId
from player.smart_rules import RuleError, compile_rules, register_functions

PlaylistId = NewType("PlaylistId", int)

MANUAL, SMART, GENERATED = "manual", "smart", "generated"
KINDS = (MANUAL, SMART, GENERATED)
MAX_NAME_CHARS = 200
_DEFAULTS_STATE_KEY = "playlists.defaults_created"

# Created once per library; the user may edit or delete them afterwards.
DEFAULT_SMART_PLAYLISTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("Recently added", "Added in the last 30 days, newest first",
     {"match": "all", "rules": [{"field": "added", "op": "in_last", "value": 30}],
      "sort": [{"field": "added", "order": "desc"}], "limit": 500}),
    ("Most played", "The 100 tracks played most often",
     {"match": "all", "rules": [{"field": "play_count", "op": ">", "value": 0}],
      "sort": [{"field": "play_count", "order": "desc"},
               {"field": "last_played", "order": "desc"}], "limit": 100}),
    ("Not played for a year", "In the library for over a year and not played in the last one",
     {"match": "all", "rules": [{"field": "last_played", "op": "not_in_last", "value": 365},
                                {"field": "added", "op": "not_in_last", "value": 365}],
      "sort": [{"field": "last_played", "order": "asc"}]}),
    ("Liked", "Every liked track, most recently liked first",
     {"match": "all", "rules": [{"field": "liked", "op": "is", "value": True}],
      "sort": [{"field": "liked_at", "order": "desc"}]}),
)


class PlaylistError(ValueError):
    """A playlist operation cannot be done; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class PlaylistInfo:
    """One playlist as listed: its tracks are read separately."""

    id: PlaylistId
    name: str
    kind: str
    description: str | None
    rules: dict[str, Any] | None
    created_at: float
    updated_at: float
    track_count: int  # manual and generated; smart ones count when evaluated


def _clean_name(name: str) -> str:
    name = " ".join(str(name).split())
    if not name:
        raise PlaylistError("a playlist needs a name")
    if len(name) > MAX_NAME_CHARS:
        raise PlaylistError(f"a playlist name is at most {MAX_NAME_CHARS} characters")
    return name


def _check_unique(conn: sqlite3.Connection, name: str, except_id: int | None = None) -> None:
    for pid, existing in conn.execute("SELECT id, name FROM playlists"):
        if existing.casefold() == name.casefold() and pid != except_id:
            raise PlaylistError(f'a playlist called "{existing}" already exists')


def create_playlist(
    conn: sqlite3.Connection,
    name: str,
    *,
    kind: str = MANUAL,
    rules: Mapping[str, Any] | None = None,
    description: str | None = None,
    track_ids: Sequence[TrackId] = (),
) -> PlaylistId:
    """Create a playlist (names are unique, ignoring case) and return its id."""
    name = _clean_name(name)
    if kind not in KINDS:
        raise PlaylistError(f"unknown playlist kind {kind!r}")
    rules_json = None
    if kind == SMART:
        if rules is None:
            raise PlaylistError("a smart playlist needs rules")
        compile_rules(rules, time.time())  # raises RuleError before anything is stored
        rules_json = json.dumps(rules, ensure_ascii=False)
    now = time.time()
    with transaction(conn):
        _check_unique(conn, name)
        cur = conn.execute(
            "INSERT INTO playlists (name, kind, rules, description, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (name, kind, rules_json, description, now, now),
        )
        pid = PlaylistId(int(cur.lastrowid or 0))
        if track_ids:
            _check_tracks(conn, track_ids)
            _write_positions(conn, pid, list(track_ids))
    return pid


def replace_generated(
    conn: sqlite3.Connection, name: str, track_ids: Sequence[TrackId], description: str | None
) -> PlaylistId:
    """Save a generated playlist under name, replacing an older generated one of that name."""
    name = _clean_name(name)
    with transaction(conn):
        row = conn.execute(
            "SELECT id, kind FROM playlists WHERE name = ? COLLATE NOCASE", (name,)
        ).fetchone()
        if row is not None and row[1] != GENERATED:
            raise PlaylistError(f'"{name}" is a {row[1]} playlist; choose another name')
        if row is not None:
            conn.execute("DELETE FROM playlists WHERE id = ?", (row[0],))
        _check_unique(conn, name)
        now = time.time()
        cur = conn.execute(
            "INSERT INTO playlists (name, kind, description, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?)", (name, GENERATED, description, now, now),
        )
        pid = PlaylistId(int(cur.lastrowid or 0))
        _check_tracks(conn, track_ids)
        _write_positions(conn, pid, list(track_ids))
    return pid


AUTO_MIXES_MARK = json.dumps({"generated_by": "mixes"})


def replace_auto_mixes(
    conn: sqlite3.Connection, mixes: Sequence[tuple[str, Sequence[TrackId], str]]
) -> list[PlaylistId]:
    """Replace the automatic mixes with a new set of (name, tracks, reason), in one transaction.

    Only playlists this function made are replaced; a mix whose name a playlist of the
    user's already has is left out rather than taking it over.
    """
    ids: list[PlaylistId] = []
    with transaction(conn):
        conn.execute("DELETE FROM playlists WHERE kind = ? AND rules = ?",
                     (GENERATED, AUTO_MIXES_MARK))
        taken = {r[0].casefold() for r in conn.execute("SELECT name FROM playlists")}
        now = time.time()
        for name, tracks, reason in mixes:
            name = _clean_name(name)
            if name.casefold() in taken or not tracks:
                continue
            taken.add(name.casefold())
            cur = conn.execute(
                "INSERT INTO playlists (name, kind, rules, description, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)", (name, GENERATED, AUTO_MIXES_MARK, reason, now, now))
            pid = PlaylistId(int(cur.lastrowid or 0))
            _check_tracks(conn, tracks)
            _write_positions(conn, pid, list(tracks))
            ids.append(pid)
    return ids


def list_playlists(conn: sqlite3.Connection) -> list[PlaylistInfo]:
    """Return every playlist, by name."""
    rows = conn.execute(
        "SELECT p.id, p.name, p.kind, p.description, p.rules, p.created_at, p.updated_at, "
        "(SELECT count(*) FROM playlist_tracks AS pt WHERE pt.playlist_id = p.id) "
        "FROM playlists AS p ORDER BY p.name COLLATE NOCASE, p.id"
    ).fetchall()
    return [_info(r) for r in rows]


def _info(r: Sequence[Any]) -> PlaylistInfo:
    return PlaylistInfo(PlaylistId(r[0]), r[1], r[2], r[3], json.loads(r[4]) if r[4] else None,
                        r[5], r[6], r[7])


def get_playlist(conn: sqlite3.Connection, ref: str | int) -> PlaylistInfo:
    """Return a playlist by id or by name (ignoring case); raise PlaylistError if none."""
    for info in list_playlists(conn):
        if (isinstance(ref, int) and info.id == ref) or str(ref).casefold() == info.name.casefold():
            return info
    if isinstance(ref, str) and ref.isdigit():
        return get_playlist(conn, int(ref))
    raise PlaylistError(f"no playlist called {ref!r}")


def playlist_tracks(
    conn: sqlite3.Connection, playlist_id: PlaylistId, *, now: float | None = None
) -> list[TrackId]:
    """Return a playlist's tracks in order; a smart playlist is evaluated now."""
    row = conn.execute("SELECT kind, rules FROM playlists WHERE id = ?", (playlist_id,)).fetchone()
    if row is None:
        raise PlaylistError(f"no playlist with id {playlist_id}")
    if row[0] == SMART:
        return evaluate_rules(conn, json.loads(row[1] or "{}"), now=now)
    return [TrackId(r[0]) for r in conn.execute(
        "SELECT pt.track_id FROM playlist_tracks AS pt JOIN tracks AS t ON t.id = pt.track_id "
        "WHERE pt.playlist_id = ? AND t.missing = 0 ORDER BY pt.position", (playlist_id,))]


def evaluate_rules(
    conn: sqlite3.Connection, rules: Mapping[str, Any], *, now: float | None = None
) -> list[TrackId]:
    """Return the tracks a smart rule set picks, in its order (RuleError if malformed)."""
    sql, params = compile_rules(rules, time.time() if now is None else now)
    register_functions(conn)
    return [TrackId(r[0]) for r in conn.execute(sql, params)]


def set_rules(conn: sqlite3.Connection, playlist_id: PlaylistId, rules: Mapping[str, Any]) -> None:
    """Replace a smart playlist's rules."""
    compile_rules(rules, time.time())
    with transaction(conn):
        _require(conn, playlist_id, SMART)
        conn.execute("UPDATE playlists SET rules = ?, updated_at = ? WHERE id = ?",
                     (json.dumps(rules, ensure_ascii=False), time.time(), playlist_id))


def rename_playlist(conn: sqlite3.Connection, playlist_id: PlaylistId, name: str) -> None:
    """Rename a playlist (names stay unique, ignoring case)."""
    name = _clean_name(name)
    with transaction(conn):
        _require(conn, playlist_id)
        _check_unique(conn, name, except_id=playlist_id)
        conn.execute("UPDATE playlists SET name = ?, updated_at = ? WHERE id = ?",
                     (name, time.time(), playlist_id))


def delete_playlist(conn: sqlite3.Connection, playlist_id: PlaylistId) -> None:
    """Delete a playlist and its entries (never the tracks)."""
    with transaction(conn):
        _require(conn, playlist_id)
        conn.execute("DELETE FROM playlist_tracks WHERE playlist_id = ?", (playlist_id,))
        conn.execute("DELETE FROM playlists WHERE id = ?", (playlist_id,))


def add_tracks(
    conn: sqlite3.Connection,
    playlist_id: PlaylistId,
    track_ids: Iterable[TrackId],
    *,
    position: int | None = None,
) -> int:
    """Insert tracks at position (default: the end); return the new length.

    A track may appear more than once in a manual playlist, as in a file playlist.
    """
    new = list(track_ids)
    with transaction(conn):
        _require(conn, playlist_id, MANUAL, GENERATED)
        _check_tracks(conn, new)
        current = _raw_tracks(conn, playlist_id)
        at = len(current) if position is None else max(0, min(position, len(current)))
        current[at:at] = new
        _write_positions(conn, playlist_id, current)
    return len(current)


def remove_positions(
    conn: sqlite3.Connection, playlist_id: PlaylistId, positions: Iterable[int]
) -> int:
    """Remove the entries at these 0-based positions; return how many went."""
    drop = set(positions)
    with transaction(conn):
        _require(conn, playlist_id, MANUAL, GENERATED)
        current = _raw_tracks(conn, playlist_id)
        kept = [t for i, t in enumerate(current) if i not in drop]
        _write_positions(conn, playlist_id, kept)
    return len(current) - len(kept)


def remove_tracks(
    conn: sqlite3.Connection, playlist_id: PlaylistId, track_ids: Iterable[TrackId]
) -> int:
    """Remove every entry of these tracks; return how many entries went."""
    drop = {int(t) for t in track_ids}
    with transaction(conn):
        _require(conn, playlist_id, MANUAL, GENERATED)
        current = _raw_tracks(conn, playlist_id)
        kept = [t for t in current if int(t) not in drop]
        _write_positions(conn, playlist_id, kept)
    return len(current) - len(kept)


def move_tracks(
    conn: sqlite3.Connection, playlist_id: PlaylistId, positions: Sequence[int], to: int
) -> list[TrackId]:
    """Move the entries at positions (kept in their order) to index `to`; return the order.

    `to` counts in the list without the moved entries, as drag and drop expects.
    """
    with transaction(conn):
        _require(conn, playlist_id, MANUAL, GENERATED)
        current = _raw_tracks(conn, playlist_id)
        picked = sorted({p for p in positions if 0 <= p < len(current)})
        moving = [current[p] for p in picked]
        rest = [t for i, t in enumerate(current) if i not in set(picked)]
        to = max(0, min(to, len(rest)))
        new = rest[:to] + moving + rest[to:]
        _write_positions(conn, playlist_id, new)
    return new


def reorder(conn: sqlite3.Connection, playlist_id: PlaylistId, track_ids: Sequence[TrackId]) -> None:
    """Replace the order: track_ids must be a permutation of the current entries."""
    with transaction(conn):
        _require(conn, playlist_id, MANUAL, GENERATED)
        current = _raw_tracks(conn, playlist_id)
        if sorted(map(int, current)) != sorted(map(int, track_ids)):
            raise PlaylistError("the new order must hold exactly the playlist's entries")
        _write_positions(conn, playlist_id, list(track_ids))


def set_rating(conn: sqlite3.Connection, track_id: TrackId, stars: int | None) -> None:
    """Rate a track 1..5 stars; None or 0 removes the rating."""
    if stars is not None and not 0 <= stars <= 5:
        raise PlaylistError("a rating is 1 to 5 stars (0 to remove it)")
    with transaction(conn):
        _check_tracks(conn, [track_id])
        if not stars:
            conn.execute("DELETE FROM ratings WHERE track_id = ?", (int(track_id),))
        else:
            conn.execute(
                "INSERT INTO ratings (track_id, stars, at) VALUES (?, ?, ?) "
                "ON CONFLICT(track_id) DO UPDATE SET stars = excluded.stars, at = excluded.at",
                (int(track_id), stars, time.time()),
            )


def ensure_default_playlists(conn: sqlite3.Connection) -> list[PlaylistId]:
    """Create the default smart playlists once per library; return those created.

    A default the user deleted or renamed stays that way: a state flag records that the
    defaults were offered, and a name already taken is skipped.
    """
    created: list[PlaylistId] = []
    with transaction(conn):
        if conn.execute("SELECT 1 FROM state WHERE key = ?", (_DEFAULTS_STATE_KEY,)).fetchone():
            return created
        taken = {r[0].casefold() for r in conn.execute("SELECT name FROM playlists")}
        now = time.time()
        for name, description, rules in DEFAULT_SMART_PLAYLISTS:
            if name.casefold() in taken:
                continue
            cur = conn.execute(
                "INSERT INTO playlists (name, kind, rules, description, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (name, SMART, json.dumps(rules), description, now, now),
            )
            created.append(PlaylistId(int(cur.lastrowid or 0)))
        conn.execute("INSERT INTO state (key, value) VALUES (?, 'true')", (_DEFAULTS_STATE_KEY,))
    return created


def _require(conn: sqlite3.Connection, playlist_id: PlaylistId, *kinds: str) -> str:
    row = conn.execute("SELECT kind, name FROM playlists WHERE id = ?", (playlist_id,)).fetchone()
    if row is None:
        raise PlaylistError(f"no playlist with id {playlist_id}")
    if kinds and row[0] not in kinds:
        raise PlaylistError(f'"{row[1]}" is a {row[0]} playlist: its tracks come from its rules')
    return str(row[0])


def _check_tracks(conn: sqlite3.Connection, track_ids: Iterable[TrackId]) -> None:
    wanted = {int(t) for t in track_ids}
    if not wanted:
        return
    known: set[int] = set()
    ids = sorted(wanted)
    for i in range(0, len(ids), 500):  # stay under SQLite's variable limit
        chunk = ids[i:i + 500]
        known.update(r[0] for r in conn.execute(
            f"SELECT id FROM tracks WHERE id IN ({','.join('?' * len(chunk))})", chunk))
    unknown = sorted(wanted - known)
    if unknown:
        raise PlaylistError(f"no track with id {unknown[0]} in the library")


def _raw_tracks(conn: sqlite3.Connection, playlist_id: PlaylistId) -> list[TrackId]:
    return [TrackId(r[0]) for r in conn.execute(
        "SELECT track_id FROM playlist_tracks WHERE playlist_id = ? ORDER BY position",
        (playlist_id,))]


def _write_positions(conn: sqlite3.Connection, playlist_id: PlaylistId, tracks: list[TrackId]) -> None:
    """Rewrite a playlist's entries as positions 0..n-1 (inside the caller's transaction)."""
    conn.execute("DELETE FROM playlist_tracks WHERE playlist_id = ?", (playlist_id,))
    conn.executemany(
        "INSERT INTO playlist_tracks (playlist_id, position, track_id) VALUES (?, ?, ?)",
        [(playlist_id, i, int(t)) for i, t in enumerate(tracks)],
    )
    conn.execute("UPDATE playlists SET updated_at = ? WHERE id = ?", (time.time(), playlist_id))


__all__ = [
    "DEFAULT_SMART_PLAYLISTS", "GENERATED", "MANUAL", "SMART", "PlaylistError", "PlaylistId",
    "PlaylistInfo", "RuleError", "add_tracks", "create_playlist", "delete_playlist",
    "ensure_default_playlists", "evaluate_rules", "get_playlist", "list_playlists",
    "move_tracks", "playlist_tracks", "remove_positions", "remove_tracks", "rename_playlist",
    "reorder", "replace_auto_mixes", "replace_generated", "set_rating", "set_rules",
]

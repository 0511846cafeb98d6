"""The user's explicit feedback: likes, bans (absolute), "not this" and "less like this"."""

from __future__ import annotations

import sqlite3
import time

from player.db import transaction
from player.models import TrackId

BAN_TRACK = "track"
BAN_ARTIST = "artist"
NOT_THIS = "not_this"
LESS_LIKE_THIS = "less_like_this"
FEEDBACK_KINDS = (NOT_THIS, LESS_LIKE_THIS)


class UnknownTrack(ValueError):
    """The track id is not in the library."""


def _check_track(conn: sqlite3.Connection, track_id: TrackId) -> None:
    if conn.execute("SELECT 1 FROM tracks WHERE id = ?", (int(track_id),)).fetchone() is None:
        raise UnknownTrack(f"no track with id {int(track_id)} in the library")


def normalise_artist(name: str) -> str:
    """Return the form artist bans are stored and compared in."""
    return " ".join(name.split()).casefold()


def like(conn: sqlite3.Connection, track_id: TrackId, at: float | None = None) -> None:
    """Like a track (liking it again keeps the first date)."""
    _check_track(conn, track_id)
    with transaction(conn):
        conn.execute(
            "INSERT INTO likes (track_id, at) VALUES (?, ?) ON CONFLICT(track_id) DO NOTHING",
            (int(track_id), time.time() if at is None else at),
        )


def unlike(conn: sqlite3.Connection, track_id: TrackId) -> bool:
    """Remove a like; return whether there was one."""
    with transaction(conn):
        cur = conn.execute("DELETE FROM likes WHERE track_id = ?", (int(track_id),))
    return cur.rowcount > 0


def ban_track(conn: sqlite3.Connection, track_id: TrackId, at: float | None = None) -> None:
    """Never recommend this track again (it also loses its like)."""
    _check_track(conn, track_id)
    with transaction(conn):
        conn.execute(
            "INSERT INTO bans (kind, value, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (BAN_TRACK, str(int(track_id)), time.time() if at is None else at),
        )
        conn.execute("DELETE FROM likes WHERE track_id = ?", (int(track_id),))


def ban_artist(conn: sqlite3.Connection, name: str, at: float | None = None) -> str:
    """Never recommend this artist again; return the name as stored."""
    value = normalise_artist(name)
    if not value:
        raise ValueError("an artist name is needed")
    with transaction(conn):
        conn.execute(
            "INSERT INTO bans (kind, value, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (BAN_ARTIST, value, time.time() if at is None else at),
        )
    return value


def unban_track(conn: sqlite3.Connection, track_id: TrackId) -> bool:
    """Lift a track ban; return whether there was one."""
    with transaction(conn):
        cur = conn.execute(
            "DELETE FROM bans WHERE kind = ? AND value = ?", (BAN_TRACK, str(int(track_id)))
        )
    return cur.rowcount > 0


def unban_artist(conn: sqlite3.Connection, name: str) -> bool:
    """Lift an artist ban; return whether there was one."""
    with transaction(conn):
        cur = conn.execute(
            "DELETE FROM bans WHERE kind = ? AND value = ?", (BAN_ARTIST, normalise_artist(name))
        )
    return cur.rowcount > 0


def add_feedback(
    conn: sqlite3.Connection, track_id: TrackId, kind: str, at: float | None = None
) -> None:
    """Record "not this" or "less like this" on a track."""
    if kind not in FEEDBACK_KINDS:
        raise ValueError(f"unknown feedback {kind!r}; expected one of {', '.join(FEEDBACK_KINDS)}")
    _check_track(conn, track_id)
    with transaction(conn):
        conn.execute(
            "INSERT INTO feedback (track_id, kind, at) VALUES (?, ?, ?)",
            (int(track_id), kind, time.time() if at is None else at),
        )


def not_this(conn: sqlite3.Connection, track_id: TrackId, at: float | None = None) -> None:
    """Lower this track and its close neighbours in the recommendations."""
    add_feedback(conn, track_id, NOT_THIS, at)


def less_like_this(conn: sqlite3.Connection, track_id: TrackId, at: float | None = None) -> None:
    """Lower tracks like this one, more gently and more broadly than not_this."""
    add_feedback(conn, track_id, LESS_LIKE_THIS, at)


def rating(conn: sqlite3.Connection, track_id: TrackId) -> int:
    """Return a track's star rating, 1..5, or 0 when it is not rated.

    Ratings are written by player.playlists.set_rating (smart playlists filter on them).
    """
    _check_track(conn, track_id)
    row = conn.execute("SELECT stars FROM ratings WHERE track_id = ?", (int(track_id),)).fetchone()
    return int(row[0]) if row else 0


def liked_tracks(conn: sqlite3.Connection) -> dict[TrackId, float]:
    """Return liked track ids and when they were liked."""
    return {TrackId(r[0]): float(r[1]) for r in conn.execute("SELECT track_id, at FROM likes")}


def banned(conn: sqlite3.Connection) -> tuple[set[TrackId], set[str]]:
    """Return (banned track ids, banned artist names normalised)."""
    tracks: set[TrackId] = set()
    artists: set[str] = set()
    for kind, value in conn.execute("SELECT kind, value FROM bans"):
        if kind == BAN_TRACK:
            try:
                tracks.add(TrackId(int(value)))
            except ValueError:  # a hand-edited row must not break recommendations
                continue
        elif kind == BAN_ARTIST:
            artists.add(str(value))
    return tracks, artists


def feedback_events(conn: sqlite3.Connection) -> list[tuple[TrackId, str, float]]:
    """Return (track id, kind, at) of every feedback event, oldest first."""
    return [
        (TrackId(r[0]), str(r[1]), float(r[2]))
        for r in conn.execute("SELECT track_id, kind, at FROM feedback ORDER BY at, id")
    ]

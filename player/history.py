"""The listening history: one row per play, the user's own data.

Plays are written in their own short transaction as each play ends, so a crash loses at
most the play in progress (and that one is recovered from `current_play`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from player.db import transaction
from player.models import Play, TrackId

SKIP_FRACTION = 0.5
SKIP_MAX_S = 240.0


def is_skip(heard_s: float, duration_s: float | None, by_user: bool) -> bool:
    """Return True for a skip: ended by the user before 50% and before 4 minutes."""
    if not by_user:
        return False
    if heard_s >= SKIP_MAX_S:
        return False
    if duration_s and duration_s > 0:
        return heard_s / duration_s < SKIP_FRACTION
    return True


_PLAY_COLUMNS = (
    "track_id, started_at, ended_at, heard_ms, fraction, end_reason, source, source_ref, "
    "artist, title, album, duration_s"
)


def _row(play: Play) -> tuple[object, ...]:
    return (
        play.track_id, play.started_at, play.ended_at, play.heard_ms, play.fraction,
        play.end_reason, play.source, play.source_ref, play.artist, play.title, play.album,
        play.duration_s,
    )


def record_play(conn: sqlite3.Connection, play: Play) -> int:
    """Store one finished play; fill artist/title/album from the track when not given.

    Returns the play's id.
    """
    with transaction(conn):
        return _insert(conn, play)


def record_plays(conn: sqlite3.Connection, plays: list[Play]) -> None:
    """Store many plays in one transaction (imports, tests, benchmarks)."""
    with transaction(conn):
        for play in plays:
            _insert(conn, play)


def _insert(conn: sqlite3.Connection, play: Play) -> int:
    cur = conn.execute(
        f"INSERT INTO plays ({_PLAY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", _row(play)
    )
    play_id = int(cur.lastrowid or 0)
    if play.track_id is not None and (play.artist is None or play.title is None):
        # Keep who and what was played, so the play means something if the file goes.
        conn.execute(
            """UPDATE plays SET
                   artist = coalesce(plays.artist, t.artist),
                   title = coalesce(plays.title, t.title),
                   album = coalesce(plays.album, t.album),
                   duration_s = coalesce(plays.duration_s, t.duration_s)
               FROM tracks AS t WHERE t.id = plays.track_id AND plays.id = ?""",
            (play_id,),
        )
    return play_id


def iter_plays(
    conn: sqlite3.Connection, *, since: float | None = None, matched_only: bool = True
) -> Iterator[Play]:
    """Yield plays in time order (only those of library tracks unless matched_only=False)."""
    where = ["1=1"]
    params: list[object] = []
    if matched_only:
        where.append("track_id IS NOT NULL")
    if since is not None:
        where.append("started_at >= ?")
        params.append(since)
    cur = conn.execute(
        f"SELECT {_PLAY_COLUMNS} FROM plays WHERE {' AND '.join(where)} ORDER BY started_at, id",
        params,
    )
    for r in cur:
        yield Play(
            track_id=None if r[0] is None else TrackId(r[0]),
            started_at=r[1], ended_at=r[2], heard_ms=r[3] or 0, fraction=r[4] or 0.0,
            end_reason=r[5], source=r[6], source_ref=r[7], artist=r[8], title=r[9],
            album=r[10], duration_s=r[11],
        )

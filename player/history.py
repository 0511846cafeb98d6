"""The listening history: one row per play, the user's own data.

Plays are written in their own short transaction as each play ends, so a crash loses at
most the play in progress (and that one is recovered from `current_play`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from typing import Any, TextIO

from player.db import transaction
from player.models import END_CLOSED, END_FINISHED, END_SKIPPED, END_STOPPED, Play, TrackId

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
    kept = {k: play.extra[k] for k in ("mb_recording_id", "imported_from") if play.extra.get(k)}
    if kept:
        conn.execute(f"UPDATE plays SET {', '.join(f'{k} = ?' for k in kept)} WHERE id = ?",
                     (*kept.values(), play_id))
    if play.track_id is not None and (play.artist is None or play.title is None
                                      or "mb_recording_id" not in kept):
        # Keep who and what was played, so the play means something if the file goes.
        conn.execute(
            """UPDATE plays SET
                   artist = coalesce(plays.artist, t.artist),
                   title = coalesce(plays.title, t.title),
                   album = coalesce(plays.album, t.album),
                   duration_s = coalesce(plays.duration_s, t.duration_s),
                   mb_recording_id = coalesce(plays.mb_recording_id, t.mb_recording_id)
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


# -- the play in progress -------------------------------------------------------------

class HeardClock:
    """Wall-clock time actually heard: runs only while audio plays.

    The final position is no measure of listening: a truncated file can jump to its full
    duration, and seeking skips audio that was never heard.
    """

    def __init__(self) -> None:
        self._total_s = 0.0
        self._since: float | None = None

    def start(self) -> None:
        """Count from now (no effect while already running)."""
        if self._since is None:
            self._since = time.monotonic()

    def pause(self) -> None:
        """Stop counting, keeping the time heard so far."""
        if self._since is not None:
            self._total_s += time.monotonic() - self._since
            self._since = None

    @property
    def running(self) -> bool:
        """Return True while counting."""
        return self._since is not None

    @property
    def heard_ms(self) -> int:
        """Return the milliseconds heard so far."""
        extra = time.monotonic() - self._since if self._since is not None else 0.0
        return round((self._total_s + extra) * 1000)


def fraction_heard(heard_ms: int, duration_s: float | None) -> float:
    """Return heard time over duration, 0..1 (0 when the duration is unknown)."""
    if not duration_s or duration_s <= 0:
        return 0.0
    return max(0.0, min(1.0, heard_ms / 1000.0 / duration_s))


def end_reason_for_user_action(heard_ms: int, duration_s: float | None) -> str:
    """Return 'skipped' or 'stopped' for a play the user ended by moving on."""
    return END_SKIPPED if is_skip(heard_ms / 1000.0, duration_s, by_user=True) else END_STOPPED


def checkpoint_current_play(conn: sqlite3.Connection, play: Play) -> None:
    """Write the play in progress, so a kill loses at most the last few seconds."""
    with transaction(conn):
        conn.execute(
            """INSERT INTO current_play (id, track_id, started_at, heard_ms, duration_s, source,
                                         source_ref, updated_at)
               VALUES (1, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(id) DO UPDATE SET track_id = excluded.track_id,
                   started_at = excluded.started_at, heard_ms = excluded.heard_ms,
                   duration_s = excluded.duration_s, source = excluded.source,
                   source_ref = excluded.source_ref, updated_at = excluded.updated_at""",
            (play.track_id, play.started_at, play.heard_ms, play.duration_s, play.source,
             play.source_ref, time.time()),
        )


def finish_play(conn: sqlite3.Connection, play: Play, *, clear_current: bool = True) -> int:
    """Record an ended play and drop the checkpoint in the same transaction."""
    with transaction(conn):
        play_id = _insert(conn, play)
        if clear_current:
            conn.execute("DELETE FROM current_play WHERE started_at = ?", (play.started_at,))
    return play_id


def recover_interrupted_play(conn: sqlite3.Connection) -> Play | None:
    """Turn a checkpoint left by a killed app into a play ended 'closed'; return it."""
    with transaction(conn):
        row = conn.execute(
            "SELECT track_id, started_at, heard_ms, duration_s, source, source_ref, updated_at "
            "FROM current_play WHERE id = 1"
        ).fetchone()
        if row is None:
            return None
        play = Play(
            track_id=None if row[0] is None else TrackId(row[0]), started_at=row[1],
            ended_at=row[6], heard_ms=int(row[2]), fraction=fraction_heard(int(row[2]), row[3]),
            end_reason=END_CLOSED, source=row[4] or "library", source_ref=row[5],
            duration_s=row[3],
        )
        _insert(conn, play)
        conn.execute("DELETE FROM current_play WHERE id = 1")
    return play


# -- export ---------------------------------------------------------------------------

def play_to_listen(play: Play) -> dict[str, object]:
    """Return a play as a ListenBrainz-style listen, with every Timbre field kept.

    `listened_at` is whole seconds as ListenBrainz wants; the exact values ride along in
    `track_metadata.additional_info.timbre`, so an export reads back without loss.
    """
    info: dict[str, object] = {
        "media_player": "Timbre",
        "submission_client": "timbre history export",
    }
    if play.duration_s is not None:
        info["duration_ms"] = round(play.duration_s * 1000)
    mbid = play.extra.get("mb_recording_id")
    if mbid:
        info["recording_mbid"] = mbid
    info["timbre"] = {
        "track_id": play.track_id, "started_at": play.started_at, "ended_at": play.ended_at,
        "heard_ms": play.heard_ms, "fraction": play.fraction, "end_reason": play.end_reason,
        "source": play.source, "source_ref": play.source_ref, "duration_s": play.duration_s,
        "imported_from": play.extra.get("imported_from"),
    }
    return {
        "listened_at": int(play.started_at),
        "track_metadata": {
            "artist_name": play.artist or "", "track_name": play.title or "",
            "release_name": play.album, "additional_info": info,
        },
    }


def listen_to_play(listen: dict[str, Any]) -> Play:
    """Read back a listen written by play_to_listen (or a plain ListenBrainz listen)."""
    meta = listen.get("track_metadata") or {}
    info = meta.get("additional_info") or {}
    ours = info.get("timbre") or {}
    duration_ms = info.get("duration_ms")
    extra: dict[str, object] = {}
    if info.get("recording_mbid"):
        extra["mb_recording_id"] = info["recording_mbid"]
    if ours.get("imported_from"):
        extra["imported_from"] = ours["imported_from"]
    track_id = ours.get("track_id")
    return Play(
        track_id=None if track_id is None else TrackId(int(track_id)),
        started_at=float(ours.get("started_at", listen.get("listened_at", 0))),
        ended_at=ours.get("ended_at"),
        heard_ms=int(ours.get("heard_ms") or 0),
        fraction=float(ours.get("fraction") or 0.0),
        end_reason=str(ours.get("end_reason") or END_FINISHED),
        source=str(ours.get("source") or "import"),
        source_ref=ours.get("source_ref"),
        artist=meta.get("artist_name") or None,
        title=meta.get("track_name") or None,
        album=meta.get("release_name"),
        duration_s=ours.get("duration_s", None if duration_ms is None else duration_ms / 1000),
        extra=extra,
    )


def iter_history(conn: sqlite3.Connection, *, limit: int | None = None) -> Iterator[Play]:
    """Yield every play, newest last, with the recording id and import origin in extra."""
    base = f"SELECT {_PLAY_COLUMNS}, mb_recording_id, imported_from, id FROM plays"
    params: list[object] = []
    if limit is None:
        sql = f"{base} ORDER BY started_at, id"
    else:  # the newest `limit` plays, still listed oldest first
        sql = (f"SELECT * FROM ({base} ORDER BY started_at DESC, id DESC LIMIT ?) "
               "ORDER BY started_at, id")
        params.append(limit)
    for r in conn.execute(sql, params):
        extra: dict[str, object] = {}
        if r[12]:
            extra["mb_recording_id"] = r[12]
        if r[13]:
            extra["imported_from"] = r[13]
        yield Play(
            track_id=None if r[0] is None else TrackId(r[0]),
            started_at=r[1], ended_at=r[2], heard_ms=r[3] or 0, fraction=r[4] or 0.0,
            end_reason=r[5], source=r[6], source_ref=r[7], artist=r[8], title=r[9],
            album=r[10], duration_s=r[11], extra=extra,
        )


def play_as_dict(play: Play) -> dict[str, object]:
    """Return a play as a JSON-ready dict (the `timbre history --json` objects)."""
    return {
        "track_id": play.track_id, "started_at": play.started_at, "ended_at": play.ended_at,
        "heard_ms": play.heard_ms, "fraction": play.fraction, "end_reason": play.end_reason,
        "source": play.source, "source_ref": play.source_ref, "artist": play.artist,
        "title": play.title, "album": play.album, "duration_s": play.duration_s,
        "mb_recording_id": play.extra.get("mb_recording_id"),
        "imported_from": play.extra.get("imported_from"),
    }


def export_listens(conn: sqlite3.Connection, out: TextIO) -> int:
    """Write every play as one JSON listen per line; return how many."""
    count = 0
    for play in iter_history(conn):
        out.write(json.dumps(play_to_listen(play), ensure_ascii=False))
        out.write("\n")
        count += 1
    return count

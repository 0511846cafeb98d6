"""Tag suggestions from the auto-tagger: stored in tag_suggestions, written into a file
only when the user accepts one (accept_suggestion), never otherwise.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import mutagen
from mutagen.id3 import ID3, TCON, TMOO
from mutagen.mp4 import MP4FreeForm, MP4Tags

from player.db import transaction
from player.models import TrackId

FIELDS = ("genre", "mood")
_MP4_MOOD = "----:com.apple.iTunes:MOOD"


class SuggestionError(ValueError):
    """A suggestion cannot be accepted; the message says why."""


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One suggested tag for one track."""

    track_id: TrackId
    field: str  # genre | mood
    value: str
    confidence: float  # 0..1
    model_version: str | None = None


def replace_suggestions(
    conn: sqlite3.Connection, field: str, suggestions: Sequence[Suggestion], model_version: str
) -> None:
    """Replace every suggestion for field with new ones, in one transaction."""
    if field not in FIELDS:
        raise ValueError(f"unknown tag field {field!r}")
    rows = [(int(s.track_id), field, s.value, float(s.confidence), model_version)
            for s in suggestions if s.field == field]
    with transaction(conn):
        conn.execute("DELETE FROM tag_suggestions WHERE field = ?", (field,))
        # A track deleted meanwhile is skipped, not an error.
        conn.executemany(
            "INSERT OR REPLACE INTO tag_suggestions (track_id, field, value, confidence, "
            "model_version) SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM tracks WHERE id = ?)",
            [(*r, r[0]) for r in rows],
        )


def suggestions(conn: sqlite3.Connection, track_id: TrackId | None = None) -> list[Suggestion]:
    """Return stored suggestions (of one track, or all), most confident first."""
    sql = "SELECT track_id, field, value, confidence, model_version FROM tag_suggestions"
    params: tuple[object, ...] = ()
    if track_id is not None:
        sql += " WHERE track_id = ?"
        params = (int(track_id),)
    rows = conn.execute(sql + " ORDER BY confidence DESC, track_id", params)
    return [Suggestion(TrackId(r[0]), r[1], r[2], float(r[3]), r[4]) for r in rows]


def read_moods(paths: Iterable[tuple[TrackId, str]]) -> dict[TrackId, tuple[str, ...]]:
    """Read the mood tags of files (read-only); unreadable files are skipped."""
    out: dict[TrackId, tuple[str, ...]] = {}
    for tid, path in paths:
        try:
            audio = mutagen.File(path)
        except (mutagen.MutagenError, OSError):
            continue
        tags = getattr(audio, "tags", None)
        if tags is None:
            continue
        if isinstance(tags, ID3):
            values = [str(t) for f in tags.getall("TMOO") for t in f.text]  # type: ignore[no-untyped-call]
        elif isinstance(tags, MP4Tags):
            values = [bytes(v).decode("utf-8", "replace")
                      for v in tags.get(_MP4_MOOD, [])]  # type: ignore[no-untyped-call]
        else:
            try:
                values = [str(v) for v in tags.get("mood", [])]
            except (TypeError, ValueError):
                values = []
        clean = tuple(v.strip() for v in values if v.strip() and v.isprintable())
        if clean:
            out[tid] = clean
    return out


def _write_tag(path: str, field: str, value: str) -> None:
    """Set one genre or mood tag in the file, in its own tag format."""
    audio = mutagen.File(path)
    if audio is None:
        raise SuggestionError(f"{path}: not an audio file mutagen can tag")
    if audio.tags is None:
        audio.add_tags()
    tags = audio.tags
    if isinstance(tags, ID3):
        tags.setall("TCON" if field == "genre" else "TMOO",  # type: ignore[no-untyped-call]
                    [(TCON if field == "genre" else TMOO)(encoding=3, text=[value])])
    elif isinstance(tags, MP4Tags):
        if field == "genre":
            tags["\xa9gen"] = [value]
        else:
            tags[_MP4_MOOD] = [MP4FreeForm(value.encode("utf-8"))]  # type: ignore[no-untyped-call]
    else:  # Vorbis comments: FLAC, Ogg Vorbis, Opus
        tags[field] = [value]
    audio.save()


def accept_suggestion(conn: sqlite3.Connection, track_id: TrackId, field: str, value: str) -> Path:
    """Write an accepted suggestion into the track's file and the library; return the path.

    The only place a suggestion reaches a file. The suggestion must exist; the file is
    written first, so a failure leaves both the file and the database as they were.
    """
    row = conn.execute(
        "SELECT t.path_bytes, t.genres FROM tag_suggestions AS s JOIN tracks AS t "
        "ON t.id = s.track_id WHERE s.track_id = ? AND s.field = ? AND s.value = ?",
        (int(track_id), field, value),
    ).fetchone()
    if row is None:
        raise SuggestionError(f"no {field} suggestion {value!r} for track {int(track_id)}")
    path = os.fsdecode(bytes(row[0]))
    try:
        _write_tag(path, field, value)
    except (mutagen.MutagenError, OSError) as exc:
        raise SuggestionError(f"{path}: could not write the tag ({exc})") from exc
    with transaction(conn):
        if field == "genre":
            st = os.stat(path)
            # The new size and mtime match the file, so the next scan does not re-read it.
            conn.execute(
                "UPDATE tracks SET genre = ?, genres = ?, size = ?, mtime_ns = ? WHERE id = ?",
                (value, json.dumps([value]), st.st_size, st.st_mtime_ns, int(track_id)),
            )
        conn.execute("DELETE FROM tag_suggestions WHERE track_id = ? AND field = ?",
                     (int(track_id), field))
    return Path(path)


def reject_suggestion(conn: sqlite3.Connection, track_id: TrackId, field: str, value: str) -> bool:
    """Drop one suggestion; return whether there was one."""
    with transaction(conn):
        cur = conn.execute(
            "DELETE FROM tag_suggestions WHERE track_id = ? AND field = ? AND value = ?",
            (int(track_id), field, value),
        )
    return cur.rowcount > 0

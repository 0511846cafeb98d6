"""The SQLite library as the engine reads it: implements the LibrarySource protocol."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from player import feedback as fb
from player import library
from player.features_store import STEADY_TEMPO_SQL, failed_track_ids
from player.history import iter_plays
from player.models import (
    DESCRIPTOR_NAMES,
    PITCH_CLASSES,
    Bans,
    FeatureMatrix,
    FeedbackEvent,
    Play,
    PlayLog,
    Revision,
    Track,
    TrackId,
)

_PITCH = {name: i for i, name in enumerate(PITCH_CLASSES)}
_PITCH.update({"Db": 1, "Eb": 3, "Gb": 6, "Ab": 8, "Bb": 10})


def _json_list(text: str | None, fallback: str | None) -> tuple[str, ...]:
    """Parse a JSON list column; fall back to the '; '-joined column. Untrusted text."""
    if text:
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, list):
            return tuple(str(v) for v in value if isinstance(v, (str, int, float)) and str(v).strip())
    if fallback:
        return tuple(p.strip() for p in fallback.split(";") if p.strip())
    return ()


class SqliteLibrarySource:
    """Read tracks, features, plays and feedback from an open library database."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._last: tuple[tuple[int, int], Revision] | None = None

    def tracks(self) -> list[Track]:
        """Return every track that is not missing, in id order."""
        # The few failed analyses, read apart: a join on every track costs 100 ms at 100,000.
        failed = failed_track_ids(self._conn)
        rows = self._conn.execute(
            "SELECT id, path, title, artist, artists, album, albumartist, genre, genres, "
            "composer, year, duration_s, bpm FROM tracks WHERE missing = 0 ORDER BY id"
        )
        out = []
        for r in rows:
            artists = _json_list(r[4], r[3])
            out.append(Track(
                id=TrackId(r[0]), path=r[1], title=r[2] or "", artist=r[3], artists=artists,
                album=r[5], albumartist=r[6], genres=_json_list(r[8], r[7]), composer=r[9],
                year=r[10] if isinstance(r[10], int) else None, duration_s=r[11], bpm=r[12],
                analysis_failed=r[0] in failed,
            ))
        return out

    def feature_matrix(self, version: int) -> FeatureMatrix:
        """Return the vectors of tracks analysed at version (others are ignored)."""
        # A tempo without a steady beat is unknown: no "same tempo" reasons, no tempo
        # steps in an ordering, and a drone is not "fast".
        cols = ", ".join(STEADY_TEMPO_SQL if c == "tempo_bpm" else f"f.{c}"
                         for c in DESCRIPTOR_NAMES)
        rows = self._conn.execute(
            f"SELECT f.track_id, f.vector, {cols} FROM features AS f JOIN tracks AS t "
            "ON t.id = f.track_id WHERE f.version = ? AND t.missing = 0 ORDER BY f.track_id",
            (version,),
        ).fetchall()
        if not rows:
            return FeatureMatrix.empty(version)
        # The common length wins: a vector of another length is a corrupt row, skipped.
        lengths = np.fromiter((len(r[1]) for r in rows), np.int64, len(rows))
        values, counts = np.unique(lengths, return_counts=True)
        size = int(values[np.argmax(counts)])
        if size == 0 or size % 4:
            return FeatureMatrix.empty(version)
        keep = [r for r in rows if len(r[1]) == size]
        ids = np.fromiter((r[0] for r in keep), np.int64, len(keep))
        vectors = np.frombuffer(b"".join(r[1] for r in keep), "<f4").reshape(len(keep), size // 4)
        vectors = np.nan_to_num(vectors.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        desc = np.full((len(keep), len(DESCRIPTOR_NAMES)), np.nan, np.float32)
        key_i = DESCRIPTOR_NAMES.index("key")
        mode_i = DESCRIPTOR_NAMES.index("mode")
        for row_i, r in enumerate(keep):
            for j, value in enumerate(r[2:]):
                if value is None:
                    continue
                if j == key_i:
                    desc[row_i, j] = _PITCH.get(str(value).strip(), np.nan)
                elif j == mode_i:
                    desc[row_i, j] = {"major": 1.0, "minor": 0.0}.get(str(value).lower(), np.nan)
                elif isinstance(value, (int, float)):
                    desc[row_i, j] = value
        return FeatureMatrix(version, ids, vectors, desc)

    def play_log(self, after_play_id: int = 0) -> PlayLog:
        """Return plays of library tracks with id > after_play_id, in time order, as columns."""
        cur = self._conn.execute(
            "SELECT p.id, p.track_id, p.started_at, coalesce(p.fraction, 0), "
            "p.end_reason = 'skipped' AND coalesce(p.fraction, 0) < 0.5 "
            "FROM plays AS p WHERE p.track_id IS NOT NULL AND p.id > ? "
            "AND coalesce(p.end_reason, '') != 'failed' ORDER BY p.started_at, p.id",
            (after_play_id,),
        )
        rows = cur.fetchall()
        if not rows:
            return PlayLog.empty()
        cols = list(zip(*rows, strict=True))
        return PlayLog.from_columns(
            track=cols[1], started_at=cols[2], fraction=cols[3],
            skipped=[bool(x) for x in cols[4]], play_id=cols[0],
        )

    def plays(self, since: float | None = None) -> Iterator[Play]:
        """Yield plays of library tracks in time order."""
        return iter_plays(self._conn, since=since)

    def likes(self) -> Mapping[TrackId, float]:
        """Return liked tracks and when."""
        return fb.liked_tracks(self._conn)

    def bans(self) -> Bans:
        """Return banned tracks and artists."""
        tracks, artists = fb.banned(self._conn)
        return Bans(frozenset(tracks), frozenset(artists))

    def feedback(self) -> Sequence[FeedbackEvent]:
        """Return every "not this" / "less like this", oldest first."""
        return [FeedbackEvent(t, k, at) for t, k, at in fb.feedback_events(self._conn)]

    def moods(self) -> Mapping[TrackId, tuple[str, ...]]:
        """Return mood words per track from the tag suggestions."""
        out: dict[TrackId, list[str]] = {}
        for tid, value in self._conn.execute(
            "SELECT track_id, value FROM tag_suggestions WHERE field = 'mood' AND confidence >= 0.5"
        ):
            out.setdefault(TrackId(tid), []).append(str(value).casefold())
        return {k: tuple(v) for k, v in out.items()}

    def revision(self) -> Revision:
        """Return fingerprints of tracks, features, plays and feedback (a few aggregates).

        When nothing at all was committed since the last call (by this connection or any
        other), the last answer is returned without a query over the tables.
        """
        c = self._conn
        stamp = (c.execute("PRAGMA data_version").fetchone()[0], c.total_changes)
        if self._last is not None and self._last[0] == stamp:
            return self._last[1]
        rev = self._revision()
        self._last = (stamp, rev)
        return rev

    def _revision(self) -> Revision:
        c = self._conn
        tracks = c.execute("SELECT count(*), max(updated_at), max(id), sum(missing) FROM tracks").fetchone()
        # A failed analysis changes what may be recommended too (Track.analysis_failed).
        feats = c.execute("SELECT count(*), max(analyzed_at), "
                          "(SELECT count(*) FROM analysis_errors) FROM features").fetchone()
        last_play = c.execute("SELECT coalesce(max(id), 0) FROM plays").fetchone()[0]
        feedback = (
            c.execute("SELECT count(*), max(at) FROM likes").fetchone()
            + c.execute("SELECT count(*), max(at) FROM bans").fetchone()
            + c.execute("SELECT count(*), max(id) FROM feedback").fetchone()
            + c.execute("SELECT count(*) FROM tag_suggestions WHERE field = 'mood'").fetchone()
        )
        # Kept by triggers per track; also moves when imported plays get matched later.
        matched = c.execute("SELECT coalesce(sum(play_count + skip_count), 0) FROM track_stats").fetchone()[0]
        return Revision(tuple(tracks), tuple(feats), int(last_play), tuple(feedback), int(matched))

    def find_track(self, ref: str) -> TrackId | None:
        """Return the id of a track given as an id or a file path (relative paths resolve)."""
        return library.find_track(self._conn, ref)

    def no_track_reason(self, ref: str) -> str:
        """Say why find_track(ref) found nothing (e.g. the scan could not read the file)."""
        return library.no_track_reason(self._conn, ref)

    def missing_reason(self, track: TrackId) -> str | None:
        """Say why a known track is not in the library now (its folder removed or
        unmounted), or None when it is."""
        return library.missing_reason(self._conn, track)

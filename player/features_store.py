"""All the SQL for audio features: what needs analysing, storing results and errors, reading vectors.

The recommender computes features; this module only knows their storage: a float32
vector (little-endian bytes) with the FEATURES_VERSION that names its layout, and the
descriptor columns of the features table.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from player.db import transaction
from player.models import MIN_TEMPO_CONFIDENCE, TrackId

DESCRIPTOR_COLUMNS = (
    "tempo_bpm", "tempo_confidence", "key", "mode", "key_confidence", "loudness_db",
    "dynamic_range_db", "energy", "brightness", "danceability", "acousticness",
)
"""The descriptor columns of the features table, in the order they are written."""

STEADY_TEMPO_SQL = (f"(CASE WHEN coalesce(f.tempo_confidence, 1) >= {MIN_TEMPO_CONFIDENCE} "
                    "THEN f.tempo_bpm END)")
"""The analysed tempo of features row f, NULL when it has no steady beat (a row without a
confidence keeps its tempo)."""
BPM_SQL = f"coalesce(nullif(t.bpm, 0), {STEADY_TEMPO_SQL})"
"""A track's BPM, tracks row t and features row f: the tag wins (a BPM somebody typed, or
a DJ program's beat grid, beats the estimate), else the analysed tempo with a steady beat."""


@dataclass(frozen=True, slots=True)
class PendingTrack:
    """A track that needs analysing at some features version."""

    track_id: TrackId
    path: bytes  # the real file-system path
    duration_s: float | None


@dataclass(frozen=True, slots=True)
class FeatureRow:
    """The analysis of one track, ready to store."""

    track_id: TrackId
    vector: np.ndarray  # float32, shape (n_features,)
    descriptors: Mapping[str, float | str | None]  # keys from DESCRIPTOR_COLUMNS


@dataclass(frozen=True, slots=True)
class AnalysisError:
    """A track whose analysis failed at some version, with why."""

    track_id: TrackId
    path: str
    version: int
    reason: str
    at: float


# The tracks the listener plays or likes come first, the most recently played first: after
# an upgrade re-analyses the library, For you gets their sound back within minutes. The
# rest follow in id order, which is the scan's folder order (kinder to disks).
_PENDING = """
    SELECT t.id, t.path_bytes, t.duration_s FROM tracks AS t
    LEFT JOIN track_stats AS s ON s.track_id = t.id
    WHERE t.missing = 0
      AND NOT EXISTS (SELECT 1 FROM features AS f WHERE f.track_id = t.id AND f.version = ?)
      AND NOT EXISTS (SELECT 1 FROM analysis_errors AS e
                      WHERE e.track_id = t.id AND e.version = ?)
    ORDER BY (s.play_count > 0 OR EXISTS (SELECT 1 FROM likes AS l WHERE l.track_id = t.id))
             DESC, s.last_played DESC, t.id
"""


def pending_tracks(conn: sqlite3.Connection, version: int) -> list[PendingTrack]:
    """Return the tracks with neither features nor a recorded error at version, those
    played or liked first.

    Tracks under an unmounted root (missing) wait until they are back.
    """
    return [PendingTrack(TrackId(row[0]), bytes(row[1]), row[2])
            for row in conn.execute(_PENDING, (version, version))]


def count_analyzed(conn: sqlite3.Connection, version: int) -> int:
    """Return how many tracks have features at version."""
    return int(conn.execute("SELECT count(*) FROM features WHERE version = ?",
                            (version,)).fetchone()[0])


def count_failed(conn: sqlite3.Connection, version: int) -> int:
    """Return how many tracks have a recorded analysis error at version."""
    return int(conn.execute("SELECT count(*) FROM analysis_errors WHERE version = ?",
                            (version,)).fetchone()[0])


_UPSERT_FEATURES = f"""
    INSERT INTO features (track_id, version, vector, analyzed_at, {", ".join(DESCRIPTOR_COLUMNS)})
    SELECT ?, ?, ?, ?, {", ".join("?" for _ in DESCRIPTOR_COLUMNS)}
    WHERE EXISTS (SELECT 1 FROM tracks WHERE id = ?)
    ON CONFLICT (track_id) DO UPDATE SET
        version = excluded.version, vector = excluded.vector,
        analyzed_at = excluded.analyzed_at,
        {", ".join(f"{c} = excluded.{c}" for c in DESCRIPTOR_COLUMNS)}
"""

_UPSERT_ERROR = """
    INSERT INTO analysis_errors (track_id, version, reason, at)
    SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM tracks WHERE id = ?)
    ON CONFLICT (track_id) DO UPDATE SET
        version = excluded.version, reason = excluded.reason, at = excluded.at
"""


def write_batch(conn: sqlite3.Connection, version: int, rows: Sequence[FeatureRow],
                errors: Sequence[tuple[TrackId, str]] = ()) -> None:
    """Store a batch of results and errors at version in one transaction.

    A track deleted from the library meanwhile is skipped, not an error; a success
    clears the track's earlier error.
    """
    now = time.time()
    feature_params = [
        (row.track_id, version, vector_bytes(row.vector), now,
         *(row.descriptors.get(c) for c in DESCRIPTOR_COLUMNS), row.track_id)
        for row in rows
    ]
    error_params = [(tid, version, reason[:2000], now, tid) for tid, reason in errors]
    with transaction(conn):
        if feature_params:
            conn.executemany(_UPSERT_FEATURES, feature_params)
            conn.executemany("DELETE FROM analysis_errors WHERE track_id = ?",
                             [(row.track_id,) for row in rows])
        if error_params:
            conn.executemany(_UPSERT_ERROR, error_params)


def vector_bytes(vector: np.ndarray) -> bytes:
    """Return the stored form of a vector: float32, little-endian."""
    return np.asarray(vector, dtype="<f4").tobytes()


def feature_vectors(conn: sqlite3.Connection, version: int,
                    track_ids: Iterable[TrackId] | None = None) -> dict[TrackId, np.ndarray]:
    """Return the float32 vectors stored at version, by track (all, or only track_ids)."""
    query = "SELECT track_id, vector FROM features WHERE version = ?"
    if track_ids is None:
        rows = conn.execute(query, (version,)).fetchall()
    else:
        ids = list(track_ids)
        rows = []
        for start in range(0, len(ids), 500):  # stay under SQLite's parameter limit
            chunk = ids[start:start + 500]
            rows += conn.execute(f"{query} AND track_id IN ({','.join('?' * len(chunk))})",
                                 (version, *chunk)).fetchall()
    return {TrackId(tid): np.frombuffer(blob, dtype="<f4").astype(np.float32)
            for tid, blob in rows}


def descriptors(conn: sqlite3.Connection, track_id: TrackId) -> dict[str, object] | None:
    """Return a track's stored descriptors with its features version, or None."""
    conn_row = conn.execute(
        f"SELECT version, analyzed_at, {', '.join(DESCRIPTOR_COLUMNS)} FROM features "
        "WHERE track_id = ?", (track_id,)).fetchone()
    if conn_row is None:
        return None
    names = ("version", "analyzed_at", *DESCRIPTOR_COLUMNS)
    return dict(zip(names, conn_row, strict=True))


def failed_track_ids(conn: sqlite3.Connection) -> set[TrackId]:
    """Return the tracks whose analysis failed and that have no features to go on."""
    return {TrackId(r[0]) for r in conn.execute(
        "SELECT e.track_id FROM analysis_errors AS e WHERE NOT EXISTS "
        "(SELECT 1 FROM features AS f WHERE f.track_id = e.track_id)")}


def analysis_errors(conn: sqlite3.Connection, version: int | None = None,
                    track_ids: Iterable[int] | None = None) -> list[AnalysisError]:
    """Return the recorded analysis errors (at version, or all; of track_ids, or all
    tracks), oldest first."""
    query = ("SELECT e.track_id, t.path, e.version, e.reason, e.at FROM analysis_errors AS e "
             "JOIN tracks AS t ON t.id = e.track_id WHERE 1")
    params: list[int] = []
    if version is not None:
        query += " AND e.version = ?"
        params.append(version)
    if track_ids is not None:
        wanted = sorted({int(t) for t in track_ids})
        query += f" AND e.track_id IN ({', '.join('?' * len(wanted))})"
        params += wanted
    return [AnalysisError(TrackId(r[0]), r[1], r[2], r[3], r[4])
            for r in conn.execute(query + " ORDER BY e.at, e.track_id", params)]

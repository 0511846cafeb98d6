"""Synthetic libraries for the recommender tests: real SQLite rows, known structure.

Tracks are inserted with SQL (the scanner's job, not under test here), features as
float32 blobs like the analysis writes them, plays through player.history.record_play.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Sequence

import numpy as np

from player.db import transaction
from player.history import record_plays
from player.models import END_FINISHED, END_SKIPPED, Play, TrackId
from recommender.features import FEATURES_VERSION
from tests.taste_sim import SimLibrary

DAY = 86_400.0
NOW = 1_780_000_000.0  # a fixed "now" (2026) so results do not depend on the clock
GROUPS = {"timbre": (0, 1, 2, 3), "harmony": (4, 5), "rhythm": (6, 7), "loudness": (8,)}
DIM = 9


def add_tracks(conn: sqlite3.Connection, specs: Sequence[dict[str, object]]) -> list[TrackId]:
    """Insert tracks from dicts (title, artist, album, albumartist, genres, year, composer)."""
    ids = []
    with transaction(conn):
        for i, s in enumerate(specs):
            path = str(s.get("path", f"/music/{i:05d}.flac"))
            artist = s.get("artist")
            genres = list(s.get("genres", ()))  # type: ignore[call-overload]
            cur = conn.execute(
                "INSERT INTO tracks (path, path_bytes, size, mtime_ns, title, artist, artists, album, "
                "albumartist, genre, genres, composer, year, duration_s, added_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (path, path.encode(), 1, 1, s.get("title", f"Track {i}"), artist,
                 json.dumps([artist]) if artist else None, s.get("album"), s.get("albumartist"),
                 "; ".join(genres) or None, json.dumps(genres) if genres else None,
                 s.get("composer"), s.get("year"), 200.0, 0.0, 0.0),
            )
            ids.append(TrackId(int(cur.lastrowid or 0)))
    return ids


def add_features(
    conn: sqlite3.Connection,
    vectors: dict[TrackId, np.ndarray],
    version: int = FEATURES_VERSION,
    descriptors: dict[TrackId, dict[str, object]] | None = None,
    analyzed_at: float = 0.0,
) -> None:
    """Store feature vectors (float32 blobs) and optional descriptor columns."""
    descriptors = descriptors or {}
    with transaction(conn):
        for tid, vec in vectors.items():
            d = descriptors.get(tid, {})
            conn.execute(
                "INSERT OR REPLACE INTO features (track_id, version, vector, analyzed_at, tempo_bpm, "
                "key, mode, loudness_db, energy, danceability) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (int(tid), version, np.asarray(vec, "<f4").tobytes(), analyzed_at, d.get("tempo_bpm"),
                 d.get("key"), d.get("mode"), d.get("loudness_db"), d.get("energy"),
                 d.get("danceability")),
            )


def plays(conn: sqlite3.Connection, events: Sequence[tuple[TrackId, float, bool]]) -> None:
    """Record (track, started_at, skipped) plays: finished ones heard fully, skips at 5%."""
    record_plays(conn, [
        Play(track_id=TrackId(int(tid)), started_at=float(at), ended_at=at + (10.0 if skipped else 200.0),
             heard_ms=10_000 if skipped else 200_000, fraction=0.05 if skipped else 1.0,
             end_reason=END_SKIPPED if skipped else END_FINISHED)
        for tid, at, skipped in events
    ])


def clustered_vectors(n_clusters: int, per_cluster: int, seed: int = 0,
                      spread: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """Return (vectors (n, DIM), cluster label (n,)): tight clusters around random centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (n_clusters, DIM))
    labels = np.repeat(np.arange(n_clusters), per_cluster)
    vecs = centres[labels] + rng.normal(0, spread, (labels.size, DIM))
    return vecs.astype(np.float32), labels


STYLES = (  # genre, tempo, energy, key, mode
    ("jazz", 90.0, 0.30, "F", "major"),
    ("rock", 125.0, 0.75, "E", "minor"),
    ("ambient", 70.0, 0.10, "C", "major"),
    ("metal", 160.0, 0.95, "D", "minor"),
)


def standard_library(conn: sqlite3.Connection, per_style: int = 8, seed: int = 0,
                     version: int = FEATURES_VERSION) -> tuple[list[TrackId], np.ndarray]:
    """Insert 4 styles x per_style analysed, tagged tracks; return (ids, style per track).

    Each style has its own cluster of sound, genre, tempo and energy; four artists per
    style, each with one album.
    """
    vecs, labels = clustered_vectors(len(STYLES), per_style, seed=seed)
    specs = []
    for i, style in enumerate(labels):
        genre = STYLES[style][0]
        artist = f"{genre.title()} Artist {i % 4}"
        specs.append(dict(title=f"{genre} song {i}", artist=artist, album=f"{artist} album",
                          genres=[genre], year=1960 + 10 * int(style)))
    ids = add_tracks(conn, specs)
    desc = {tid: dict(tempo_bpm=STYLES[s][1], energy=STYLES[s][2], key=STYLES[s][3], mode=STYLES[s][4],
                      loudness_db=-12.0 + s, danceability=0.5)
            for tid, s in zip(ids, labels, strict=True)}
    add_features(conn, dict(zip(ids, vecs, strict=True)), version=version, descriptors=desc)
    return ids, labels


def store_simulated(conn: sqlite3.Connection, lib: SimLibrary, history: Sequence[Play]
                    ) -> tuple[dict[TrackId, TrackId], list[Play]]:
    """Store a simulated library's tracks and features; return (simulated id -> library
    id, the history's plays re-keyed to library ids), recording none of them."""
    order = sorted(lib.tracks)
    ids = add_tracks(conn, [{"title": lib.tracks[t].title, "artist": lib.tracks[t].artist,
                             "genres": lib.tracks[t].genres} for t in order])
    real = dict(zip(order, ids, strict=True))
    add_features(conn, {real[t]: lib.features[t] for t in order}, version=lib.version)
    plays = [dataclasses.replace(p, track_id=real[p.track_id])  # type: ignore[index]
             for p in history]
    return real, plays

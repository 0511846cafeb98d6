"""A simulated listener with a hidden taste, over a synthetic library (tests and bench).

Tracks have the real FEATURE_NAMES layout (a fallback layout until the analysis module
exists) and belong to styles with a genre and a mood. The listener finishes slow, dark
tracks in the evening and skips bright, fast ones then; in the daytime they prefer
energetic tracks; each artist pleases them more or less; a jarring tempo change after
the previous track makes a skip likelier.
"""

from __future__ import annotations

import math
import time
import zlib
from dataclasses import dataclass, field

import numpy as np

from player.models import END_FINISHED, END_SKIPPED, Play, Track, TrackId

# style: (genre, mood, tempo, brightness, energy) in standard units
STYLES = {
    "ambient": ("ambient", "calm", -1.3, -1.2, -1.2),
    "nocturne": ("classical", "melancholic", -1.0, -0.6, -0.6),
    "folk": ("folk", "happy", -0.2, 0.1, -0.2),
    "jazz": ("jazz", "calm", 0.0, -0.4, 0.0),
    "house": ("house", "upbeat", 0.9, 0.7, 0.9),
    "techno": ("techno", "energetic", 1.3, 1.2, 1.3),
}
START = time.mktime((2026, 1, 5, 0, 0, 0, 0, 0, -1))  # a Monday, local time


def layout() -> tuple[int, tuple[str, ...]]:
    """Return the analysis's FEATURES_VERSION and FEATURE_NAMES."""
    from recommender.features import FEATURE_NAMES, FEATURES_VERSION

    return int(FEATURES_VERSION), tuple(FEATURE_NAMES)


def _index(names: tuple[str, ...], *keys: str) -> int | None:
    for key in keys:
        for i, n in enumerate(names):
            if key in n.lower():
                return i
    return None


@dataclass
class SimLibrary:
    """A synthetic library: tracks, vectors and the hidden truth behind them."""

    names: tuple[str, ...]
    version: int
    tracks: dict[TrackId, Track] = field(default_factory=dict)
    features: dict[TrackId, np.ndarray] = field(default_factory=dict)
    latent: dict[TrackId, np.ndarray] = field(default_factory=dict)  # tempo, bright, energy
    style: dict[TrackId, str] = field(default_factory=dict)
    artist_taste: dict[str, float] = field(default_factory=dict)


def make_library(n_tracks: int = 300, seed: int = 0, names: tuple[str, ...] | None = None,
                 version: int | None = None, spread: float = 0.8) -> SimLibrary:
    """Return a library of n_tracks spread over the styles, 4 artists each.

    spread: the within-style noise of the vectors (styles overlap more as it grows).
    """
    v, default_names = layout()
    names = names or default_names
    lib = SimLibrary(names=names, version=v if version is None else version)
    rng = np.random.default_rng(seed)
    cols = {k: _index(names, *keys) for k, keys in (("tempo", ("tempo",)),
                                                    ("bright", ("brightness", "centroid")),
                                                    ("energy", ("energy", "rms")))}
    for s in STYLES:
        for a in range(4):
            lib.artist_taste[f"{s.title()} Artist {a}"] = float(rng.normal(0, 0.7))
    style_names = list(STYLES)
    tids = [TrackId(i) for i in range(1, n_tracks + 1)]
    styles = [style_names[int(rng.integers(len(style_names)))] for _ in tids]
    # Each column draws from its own stream, keyed by its name: a layout that gains or loses
    # columns leaves the others' values, and the listener simulated on them, as they were.
    vecs = np.empty((n_tracks, len(names)))
    for j, name in enumerate(names):
        col_rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        centre = dict(zip(STYLES, col_rng.normal(0, 1, len(STYLES)), strict=True))
        vecs[:, j] = [centre[s] for s in styles] + col_rng.normal(0, spread, n_tracks)
    for i, (tid, s) in enumerate(zip(tids, styles, strict=True)):
        genre, mood, *means = STYLES[s]
        lat = np.array(means, float) + rng.normal(0, 0.45, 3)
        vec = vecs[i]
        for j, key in enumerate(("tempo", "bright", "energy")):
            col = cols[key]
            if col is not None:
                vec[col] = lat[j] + rng.normal(0, 0.15)
        if cols["tempo"] is not None:
            vec[cols["tempo"]] = 120 + 30 * vec[cols["tempo"]]  # in BPM, as analysed
        artist = f"{s.title()} Artist {int(rng.integers(4))}"
        lib.tracks[tid] = Track(id=tid, path=f"/music/{s}/{int(tid)}.flac", title=f"{s} {int(tid)}",
                                artist=artist, artists=(artist,), genres=(genre,),
                                duration_s=float(rng.uniform(150, 300)))
        lib.features[tid] = vec.astype(np.float32)
        lib.latent[tid] = lat
        lib.style[tid] = s
    return lib


def finish_probability(lib: SimLibrary, tid: TrackId, at: float, prev: TrackId | None) -> float:
    """Return the hidden probability that the listener finishes tid at time at."""
    tempo, bright, energy = lib.latent[tid]
    hour = time.localtime(at).tm_hour
    if hour >= 18 or hour < 2:  # evening: slow and dark, never bright and fast
        u = -1.5 * tempo - 1.5 * bright
    else:  # daytime: energy
        u = 1.2 * energy
    artist = lib.tracks[tid].artist or ""
    u += lib.artist_taste.get(artist, 0.0)
    if prev is not None and abs(lib.latent[prev][0] - tempo) > 1.6:
        u -= 1.0  # a jarring change of tempo
    return 1.0 / (1.0 + math.exp(-(u + 0.2)))


def simulate_plays(lib: SimLibrary, n_plays: int, seed: int = 1, start: float = START,
                   pool: list[TrackId] | None = None) -> list[Play]:
    """Return n_plays plays in sessions over the weeks after start, in time order."""
    rng = np.random.default_rng(seed)
    ids = pool or list(lib.tracks)
    plays: list[Play] = []
    day = 0
    while len(plays) < n_plays:
        for _ in range(int(rng.integers(1, 4))):  # sessions per day
            at = start + day * 86400 + float(rng.uniform(7, 23.5)) * 3600
            prev: TrackId | None = None
            for _ in range(int(rng.integers(3, 12))):
                tid = ids[int(rng.integers(len(ids)))]
                dur = lib.tracks[tid].duration_s or 200.0
                finished = rng.random() < finish_probability(lib, tid, at, prev)
                heard = dur if finished else float(rng.uniform(5, 0.35 * dur))
                track = lib.tracks[tid]
                plays.append(Play(
                    track_id=tid, started_at=at, ended_at=at + heard, heard_ms=int(heard * 1000),
                    fraction=heard / dur, end_reason=END_FINISHED if finished else END_SKIPPED,
                    artist=track.artist, title=track.title, duration_s=dur,
                ))
                at += heard + 1
                prev = tid
                if len(plays) >= n_plays:
                    return sorted(plays, key=lambda p: p.started_at)
        day += 1
    # A day's sessions are drawn at random hours, not in order: sort them into time order.
    return sorted(plays, key=lambda p: p.started_at)

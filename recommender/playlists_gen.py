"""Generated playlists: mood and energy playlists, song paths, and seeded radios.

Mood playlists rank the analysed tracks by a score over their descriptors (each 0..1, or
tempo in BPM), documented in MOODS: the features that define the mood and how. A track
tagged with the mood word (an accepted or suggested mood tag) gets a bonus, so tags and
sound agree. Only tracks whose score passes the mood's floor are used, so a library with
nothing calm gets a short (or empty) "calm" playlist rather than the least loud tracks.

A song path goes from track A to track B in n tracks. Step i aims at the point
(1 - a) A + a B of the similarity space (a = i / (n - 1)); since similarity is a dot
product, a track's closeness to that point is (1 - a) sim(x, A) + a sim(x, B). Each step
must be strictly more similar to B than the one before, so the path moves monotonically
toward B; it is shorter than n when the library has no such track left.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from player.models import TrackId
from recommender.explain import describe
from recommender.picks import Snapshot, select, smooth_order, spaced_artist_cap
from recommender.source import DESCRIPTOR_NAMES

Column = Callable[[str], np.ndarray]


def _ramp(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """Return 0 at or below low, 1 at or above high, linear between (NaN stays NaN)."""
    return np.clip((x - low) / (high - low), 0.0, 1.0)


def _near(x: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Return 1 at centre, falling to 0 at centre +- width."""
    return np.clip(1.0 - np.abs(x - centre) / width, 0.0, 1.0)


@dataclass(frozen=True)
class Mood:
    """A mood: what defines it (for the documentation and the reason) and how to score it."""

    name: str
    defined_by: str
    score: Callable[[Column], np.ndarray]
    floor: float = 0.5  # a track scoring below this is not this mood


MOODS: dict[str, Mood] = {m.name: m for m in (
    Mood("calm", "low energy (weight 2), slow tempo under ~100 BPM, soft loudness",
         lambda c: (2 * (1 - c("energy")) + (1 - _ramp(c("tempo_bpm"), 70, 130))
                    + (1 - _ramp(c("loudness_db"), -30, -8))) / 4),
    Mood("energetic", "high energy (weight 2), fast tempo over ~120 BPM, loud",
         lambda c: (2 * c("energy") + _ramp(c("tempo_bpm"), 90, 150)
                    + _ramp(c("loudness_db"), -25, -6)) / 4),
    Mood("focus", "moderate energy around 0.35, steady tempo of 80-130 BPM, not too bright, "
         "little danceability (nothing that asks for attention)",
         lambda c: (_near(c("energy"), 0.35, 0.35) + _near(c("tempo_bpm"), 105, 45)
                    + (1 - c("brightness")) + (1 - c("danceability"))) / 4),
    Mood("upbeat", "major key, danceability, energy and a tempo of 100-140 BPM",
         lambda c: (c("mode") + c("danceability") + c("energy")
                    + _near(c("tempo_bpm"), 120, 40)) / 4),
    Mood("melancholic", "minor key (weight 2), low energy, slow tempo, dark sound",
         lambda c: (2 * (1 - c("mode")) + (1 - c("energy")) + (1 - _ramp(c("tempo_bpm"), 70, 130))
                    + (1 - c("brightness"))) / 5),
    Mood("danceable", "danceability (weight 2), energy, tempo of 110-130 BPM",
         lambda c: (2 * c("danceability") + c("energy") + _near(c("tempo_bpm"), 120, 30)) / 4),
    Mood("acoustic", "acousticness (weight 2), low brightness",
         lambda c: (2 * c("acousticness") + (1 - c("brightness"))) / 3),
)}
MOOD_TAG_BONUS = 0.2
FELT_BPM_WITHOUT_BEAT = 60.0
"""The tempo moods take for an analysed track with no steady beat (its tempo is unknown):
music without a pulse is heard as slow, so a drone is calm and not danceable."""


class GenerateError(ValueError):
    """A playlist cannot be generated; the message says why, for the user."""


def mood_scores(snap: Snapshot, mood: str) -> np.ndarray:
    """Return every row's score for a mood, 0..1 (NaN where the descriptors are unknown)."""
    spec = MOODS.get(mood.strip().casefold())
    if spec is None:
        raise GenerateError(f"unknown mood {mood!r}: known moods are {', '.join(MOODS)}")
    desc = snap.sim.descriptors_

    def column(name: str) -> np.ndarray:
        values = desc[:, DESCRIPTOR_NAMES.index(name)].astype(np.float64)
        if name == "tempo_bpm":  # analysed (energy known) but no steady beat
            beatless = np.isnan(values) & np.isfinite(desc[:, DESCRIPTOR_NAMES.index("energy")])
            values[beatless] = FELT_BPM_WITHOUT_BEAT
        return values

    with np.errstate(invalid="ignore"):
        score = np.asarray(spec.score(column), np.float64)
    tagged = snap.sim.rows_of([int(t) for t, moods in snap.moods.items() if spec.name in moods])
    tagged = tagged[tagged >= 0]
    score[tagged] = np.nan_to_num(score[tagged], nan=spec.floor) + MOOD_TAG_BONUS
    return score


def mood_playlist(snap: Snapshot, mood: str, n: int = 30) -> tuple[list[TrackId], str]:
    """Return (tracks, reason) for a mood: the best-scoring tracks, smoothly ordered."""
    score = mood_scores(snap, mood)
    spec = MOODS[mood.strip().casefold()]
    ok = np.isfinite(score) & (score >= spec.floor) & ~snap.banned_
    ok &= np.asarray([t is not None for t in snap.sim.tracks_], bool)
    ranked = [int(r) for r in np.flatnonzero(ok)[np.argsort(-score[ok], kind="stable")]]
    picked = select(snap, ranked, n, artist_cap=spaced_artist_cap(n))
    rows = smooth_order(snap, picked)
    # The playlist is named after the mood (the CLI prints "Calm: <reason>"), so the reason
    # says what it means, not the name again.
    reason = f"{spec.defined_by[:1].upper()}{spec.defined_by[1:]}."
    return [TrackId(int(snap.sim.track_ids_[r])) for r in rows], reason


def song_path(snap: Snapshot, start: TrackId, end: TrackId, n: int = 10) -> list[TrackId]:
    """Return a path of at most n tracks from start to end, each step closer to end."""
    sim = snap.sim
    a, b = (int(r) for r in sim.rows_of([int(start), int(end)]))
    if a < 0 or b < 0:
        raise GenerateError("both ends of a path must be library tracks")
    if a == b:
        raise GenerateError("a path needs two different tracks")
    n = max(2, n)
    per = sim.seed_scores([a, b])
    to_a, to_b = per[:, 0].astype(np.float64), per[:, 1].astype(np.float64)
    usable = ~snap.banned_ & np.asarray([t is not None for t in sim.tracks_], bool)
    usable[[a, b]] = False
    for row in np.flatnonzero(usable):  # never the same song as an end
        if sim.is_duplicate(int(row), a) or sim.is_duplicate(int(row), b):
            usable[row] = False
    path = [a]
    level = to_b[a]
    gap = (to_b[b] - to_b[a]) / (n - 1)
    artists = sim.artist_keys_
    for i in range(1, n - 1):
        alpha = i / (n - 1)
        candidates = np.flatnonzero(usable & (to_b > level) & (to_b < to_b[b]))
        if candidates.size == 0:
            break
        # Stay within about one step of where this step should be, so the path does not
        # jump to B's neighbours early and run out of room.
        near = candidates[to_b[candidates] <= to_b[a] + (i + 0.5) * gap]
        pool = near if near.size else candidates[np.argsort(to_b[candidates])[:1]]
        fit = (1 - alpha) * to_a[pool] + alpha * to_b[pool]
        spaced = [j for j in range(pool.size) if artists[int(pool[j])] != artists[path[-1]]
                  or not artists[path[-1]]]
        order = spaced if spaced else list(range(pool.size))
        pick = int(pool[max(order, key=lambda j: fit[j])])
        path.append(pick)
        level = to_b[pick]
        usable[pick] = False
    path.append(b)
    return [TrackId(int(sim.track_ids_[r])) for r in path]


def path_reason(snap: Snapshot, start: TrackId, end: TrackId, steps: int) -> str:
    """Say what a song path is."""
    s = snap.track(int(snap.sim.rows_of([int(start)])[0]))
    e = snap.track(int(snap.sim.rows_of([int(end)])[0]))
    return (f"A path from {describe(s)} to {describe(e)} in {steps} tracks, each one "
            "closer in sound and style to the destination.")


def radio_playlist(picks: Sequence[TrackId], seed: TrackId) -> list[TrackId]:
    """Return a radio's picks with the seed first (the saved form of a station)."""
    return [seed] + [t for t in picks if t != seed]

"""What the taste model (recommender/taste.py) learns from: the library's feature vectors
and tags and the user's plays, read through the LibrarySource interface; which plays say
something about taste (finished or liked against skipped or banned); and the context a
track is played in (when, and after what).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from player.models import END_FINISHED, END_SKIPPED, Play, Track, TrackId
from recommender.source import FeatureMatrix, LibrarySource

SESSION_GAP_S = 30 * 60  # a longer pause starts a new session: no "previous track"
# Parts of the day as recommender/foryou.py splits them (5-12, 12-17, 17-22, else), with
# the hour the reason tries each at, and how a sentence says it.
DAY_PARTS = (("late at night", 2), ("in the morning", 9), ("in the afternoon", 15),
             ("in the evening", 20))


def day_part(hour: int) -> int:
    """Return the DAY_PARTS index of a local hour."""
    return 1 if 5 <= hour < 12 else 2 if 12 <= hour < 17 else 3 if 17 <= hour < 22 else 0


@dataclass(frozen=True, slots=True)
class Context:
    """When a track would be played, and after what."""

    at: float  # unix seconds; hour and weekday are taken in local time
    previous: TrackId | None = None


@dataclass
class TasteData:
    """Everything the taste model reads: the library's vectors and tags, the history."""

    features: Mapping[TrackId, np.ndarray]  # (n_features,) float32, current version
    tracks: Mapping[TrackId, Track]
    plays: Sequence[Play]  # in time order
    liked: frozenset[TrackId] = frozenset()
    banned: frozenset[TrackId] = frozenset()
    # Several analysis windows per track, (n_windows, n_features), when the analysis keeps them.
    windows: Mapping[TrackId, np.ndarray] = field(default_factory=dict)


def taste_data(source: LibrarySource, version: int, *, since: float | None = None,
               matrix: FeatureMatrix | None = None) -> TasteData:
    """Read what the taste model needs through the library interface.

    since: read only the plays started from then on (an update needs no older ones);
    matrix: the feature matrix of version when the caller has already read it.
    """
    matrix = source.feature_matrix(version) if matrix is None else matrix
    features = {TrackId(int(i)): matrix.vectors[row] for row, i in enumerate(matrix.ids)}
    tracks = {t.id: t for t in source.tracks()}
    bans = source.bans()
    banned = set(bans.tracks)
    if bans.artists:
        # A banned artist is a firm "no" to every one of their tracks.
        banned |= {t.id for t in tracks.values()
                   if any(" ".join(a.split()).casefold() in bans.artists
                          for a in (t.artists or (t.artist or "",)))}
    return TasteData(features=features, tracks=tracks, plays=list(source.plays(since)),
                     liked=frozenset(source.likes()), banned=frozenset(banned))


def play_label(play: Play, liked: frozenset[TrackId], banned: frozenset[TrackId]) -> int | None:
    """Return 1 (enjoyed), 0 (rejected) or None (says nothing) for one play."""
    if play.track_id in banned:
        return 0
    if play.end_reason == END_SKIPPED:
        return 0
    if play.end_reason == END_FINISHED or play.track_id in liked:
        return 1
    return None


def artist_of(play: Play, data: TasteData) -> str:
    """Return the casefolded artist of a play (as recorded, else its track's), or ""."""
    track = data.tracks.get(play.track_id) if play.track_id is not None else None
    return (play.artist or (track.artist if track else None) or "").casefold()

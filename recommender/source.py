"""The narrow read interface between the library and the recommender.

The engine reads everything through `LibrarySource`: tracks as `player.models.Track`,
feature vectors as one (ids, matrix) pair, the listening history as columns (a `PlayLog`),
and the user's likes, bans and feedback. The SQLite implementation lives in
`player/library_source.py`; tests and benchmarks may provide their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

# The plain data types live in player.models (player/ must not import recommender/);
# re-exported here so `from recommender.source import PlayLog` keeps working.
from player.models import (
    DESCRIPTOR_NAMES,
    LESS_LIKE_THIS,
    NOT_THIS,
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

__all__ = [
    "DESCRIPTOR_NAMES", "LESS_LIKE_THIS", "NOT_THIS", "PITCH_CLASSES", "Bans", "FeatureMatrix",
    "FeedbackEvent", "LibrarySource", "Play", "PlayLog", "Revision", "Track", "TrackId",
]


class LibrarySource(Protocol):
    """All the recommender may read from the library."""

    def tracks(self) -> Sequence[Track]:
        """Return every playable library track (not missing), in id order."""
        ...

    def feature_matrix(self, version: int) -> FeatureMatrix:
        """Return the feature vectors and descriptors of the tracks analysed at version."""
        ...

    def play_log(self, after_play_id: int = 0) -> PlayLog:
        """Return the plays of library tracks with an id above after_play_id, in time order."""
        ...

    def plays(self, since: float | None = None) -> Iterable[Play]:
        """Yield plays of library tracks in time order (for reasons and tools)."""
        ...

    def likes(self) -> Mapping[TrackId, float]:
        """Return liked tracks and when they were liked (unix s)."""
        ...

    def bans(self) -> Bans:
        """Return banned tracks and artists."""
        ...

    def feedback(self) -> Sequence[FeedbackEvent]:
        """Return every "not this" / "less like this", oldest first."""
        ...

    def moods(self) -> Mapping[TrackId, tuple[str, ...]]:
        """Return mood words known per track (accepted or suggested tags), lower-cased."""
        ...

    def revision(self) -> Revision:
        """Return fingerprints that change whenever the data above changes."""
        ...

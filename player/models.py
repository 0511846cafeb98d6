"""Plain types shared by the player, the engine and the window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NewType

import numpy as np

TrackId = NewType("TrackId", int)

# How a play ended (plays.end_reason).
END_FINISHED = "finished"
END_SKIPPED = "skipped"
END_STOPPED = "stopped"
END_FAILED = "failed"
END_CLOSED = "closed"
END_REASONS = (END_FINISHED, END_SKIPPED, END_STOPPED, END_FAILED, END_CLOSED)

# Where a play came from (plays.source).
SOURCES = ("library", "search", "album", "playlist", "foryou", "radio", "mix", "import")


@dataclass(frozen=True, slots=True)
class Track:
    """The metadata of one library track the engine and the window need."""

    id: TrackId
    path: str
    title: str
    artist: str | None = None
    artists: tuple[str, ...] = ()
    album: str | None = None
    albumartist: str | None = None
    genres: tuple[str, ...] = ()
    composer: str | None = None
    year: int | None = None
    duration_s: float | None = None
    bpm: float | None = None
    # The analysis could not use the file (truncated, undecodable, silent): it is still
    # listed and playable on request, but never recommended.
    analysis_failed: bool = False


@dataclass(frozen=True, slots=True)
class Play:
    """One play of a track, as recorded in the listening history."""

    track_id: TrackId | None
    started_at: float  # unix seconds, UTC
    ended_at: float | None = None
    heard_ms: int = 0
    fraction: float = 0.0
    end_reason: str = END_FINISHED
    source: str = "library"
    source_ref: str | None = None
    artist: str | None = None
    title: str | None = None
    album: str | None = None
    duration_s: float | None = None
    liked: bool = False
    extra: dict[str, object] = field(default_factory=dict)


# The engine's inputs, read from the library by player/library_source.py (plain data, no SQL).

# Per-track descriptors the queue orders by and the reasons talk about; NaN when unknown.
# key is a pitch class 0..11 (C=0), mode 1 = major, 0 = minor.
DESCRIPTOR_NAMES = (
    "tempo_bpm", "key", "mode", "loudness_db", "energy", "brightness", "danceability",
    "acousticness",
)
MIN_TEMPO_CONFIDENCE = 0.1
"""Below this tempo confidence the onsets have no steady beat (a drone, music in free
time): the tempo is a guess, so it is shown and used as unknown. Music with a pulse scores
about 0.2 to 0.8 (the music21 renders of bench/eval_similarity.py: 0.2 at the 10th
percentile), the demo library's ambient drones 0.006 to 0.08."""
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

NOT_THIS = "not_this"
LESS_LIKE_THIS = "less_like_this"


@dataclass(frozen=True)
class FeatureMatrix:
    """The analysed tracks of one FEATURES_VERSION, one row each.

    ids: int64 (n,), sorted ascending; vectors: float32 (n, d); descriptors: float32
    (n, len(DESCRIPTOR_NAMES)), NaN where unknown.
    """

    version: int
    ids: np.ndarray
    vectors: np.ndarray
    descriptors: np.ndarray

    @classmethod
    def empty(cls, version: int, dim: int = 0) -> FeatureMatrix:
        """Return a matrix with no rows."""
        return cls(
            version,
            np.zeros(0, np.int64),
            np.zeros((0, dim), np.float32),
            np.zeros((0, len(DESCRIPTOR_NAMES)), np.float32),
        )

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def merged_prefix(self, older: FeatureMatrix, width: int) -> FeatureMatrix:
        """Return this matrix and an older one on their first width columns, by id (a
        track in both keeps this one's row)."""
        keep = ~np.isin(older.ids, self.ids)
        ids = np.concatenate([self.ids, older.ids[keep]])
        order = np.argsort(ids, kind="stable")
        mine = self.vectors[:, :width] if len(self) else np.zeros((0, width), np.float32)
        vectors = np.concatenate([mine, older.vectors[keep, :width]])
        descriptors = np.concatenate([self.descriptors, older.descriptors[keep]])
        return FeatureMatrix(self.version, ids[order], np.ascontiguousarray(vectors[order]),
                             descriptors[order])


@dataclass(frozen=True)
class PlayLog:
    """The listening history as columns, in time order: one row per play.

    Columns (all shape (n,)): play_id int64 (increasing; for incremental refits),
    track int64, started_at float64 (unix s), fraction float32 (0..1 heard), skipped bool
    (an early skip by the user), count float32 (how many plays the row stands for:
    1 for native plays, more for aggregated imports).
    """

    play_id: np.ndarray
    track: np.ndarray
    started_at: np.ndarray
    fraction: np.ndarray
    skipped: np.ndarray
    count: np.ndarray

    @classmethod
    def empty(cls) -> PlayLog:
        """Return a log with no plays."""
        return cls.from_columns([], [], [], [], [])

    @classmethod
    def from_columns(
        cls,
        track: Sequence[int] | np.ndarray,
        started_at: Sequence[float] | np.ndarray,
        fraction: Sequence[float] | np.ndarray,
        skipped: Sequence[bool] | np.ndarray,
        play_id: Sequence[int] | np.ndarray | None = None,
        count: Sequence[float] | np.ndarray | None = None,
    ) -> PlayLog:
        """Build a log from columns, sorting by time (ties keep their order)."""
        t = np.asarray(track, np.int64)
        n = t.shape[0]
        pid = np.arange(1, n + 1, dtype=np.int64) if play_id is None else np.asarray(play_id, np.int64)
        cnt = np.ones(n, np.float32) if count is None else np.asarray(count, np.float32)
        started = np.asarray(started_at, np.float64)
        order = np.lexsort((pid, started))
        return cls(
            play_id=pid[order], track=t[order], started_at=started[order],
            fraction=np.clip(np.asarray(fraction, np.float32), 0.0, 1.0)[order],
            skipped=np.asarray(skipped, bool)[order], count=cnt[order],
        )

    @classmethod
    def concat(cls, a: PlayLog, b: PlayLog) -> PlayLog:
        """Return a followed by b (b's plays are newer)."""
        return cls(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in _LOG_FIELDS))

    def __len__(self) -> int:
        return int(self.track.shape[0])

    @property
    def last_play_id(self) -> int:
        """Return the newest play id in the log, 0 when empty."""
        return int(self.play_id.max()) if len(self) else 0


_LOG_FIELDS = ("play_id", "track", "started_at", "fraction", "skipped", "count")


@dataclass(frozen=True)
class Bans:
    """Absolute exclusions: track ids and artist names (lower-cased)."""

    tracks: frozenset[TrackId] = frozenset()
    artists: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FeedbackEvent:
    """One "not this" or "less like this" on a track."""

    track_id: TrackId
    kind: str  # NOT_THIS | LESS_LIKE_THIS
    at: float


@dataclass(frozen=True)
class Revision:
    """Cheap fingerprints of what the engine has read; a change means "read again"."""

    tracks: tuple[object, ...] = ()
    features: tuple[object, ...] = ()
    last_play_id: int = 0
    feedback: tuple[object, ...] = field(default_factory=tuple)
    # Plays counted per library track: changes when old plays get matched to tracks too.
    matched_plays: int = 0

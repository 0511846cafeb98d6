"""Plain types shared by the player, the recommender and the window."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NewType

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
    """The metadata of one library track the recommender and the window need."""

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

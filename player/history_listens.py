"""What every history format reads into: a Listen, the HistoryStream of one file's listens
and its problems, the HistoryFormatError of a file that cannot be read at all, and the
parsing of the values the formats share (times, durations, plain text).

The parsers of each family of formats (player/history_scrobbler.py, history_listenbrainz.py,
history_lastfm.py) build on these; player/history_formats.py opens a file with the right one.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any, Self

MAX_PROBLEMS = 50  # described problems kept per file; the rest are only counted
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC).timestamp()  # Audioscrobbler began in 2002


class HistoryFormatError(ValueError):
    """A history file cannot be read at all; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class Listen:
    """One listen from another player or service."""

    listened_at: float  # unix seconds, UTC
    artist: str
    title: str
    album: str | None = None
    duration_s: float | None = None
    mb_recording_id: str | None = None
    end_reason: str | None = None  # skipped, or what Timbre's own export recorded
    fraction: float | None = None
    heard_ms: int | None = None
    imported_from: str | None = None  # Timbre's own export: where the play came from


@dataclass
class HistoryStream:
    """The listens of one file, read from it as they are iterated (once), and its problems.

    `invalid` and `problems` grow as the iteration meets unreadable records; `progress()`
    says how far through the file it is, in bytes. Close it (or use it in a `with`) when
    not reading it to the end.
    """

    format: str
    invalid: int = 0
    problems: list[str] = field(default_factory=list)
    size: int = 0  # bytes to read: the file, or a zip's listens members uncompressed
    _listens: Iterator[Listen] = field(default_factory=lambda: iter(()), repr=False)
    _position: Callable[[], int] = field(default=lambda: 0, repr=False)
    _file: IO[Any] | zipfile.ZipFile | None = field(default=None, repr=False)

    def bad(self, where: str, why: str) -> None:
        """Count an unreadable record, describing the first few."""
        self.invalid += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{where}: {why}")

    def progress(self) -> tuple[int, int]:
        """Return (bytes read, bytes in all), for a progress bar."""
        return min(self._position(), self.size), self.size

    def __iter__(self) -> Iterator[Listen]:
        return self._listens

    def close(self) -> None:
        """Stop reading and close the file."""
        close = getattr(self._listens, "close", None)
        if close is not None:
            close()
        if self._file is not None:  # when the listens were never read, the file is open
            self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def positive(text: object) -> float | None:
    """Return a number read from text (or a number) when it is above zero, else None."""
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def clean_text(value: object) -> str | None:
    """Return value as one line of text with its runs of white space made single, or None."""
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def parse_time(value: object) -> float:
    """Return UTC seconds from epoch seconds (or milliseconds) or an ISO 8601 string."""
    if isinstance(value, bool) or value is None:
        raise ValueError("no listened_at")
    if isinstance(value, (int, float)):
        at = float(value)
    else:
        text = str(value).strip()
        try:
            at = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(f"listened_at {text!r} is not a time") from None
            at = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    if at > 1e11:  # milliseconds
        at /= 1000
    if at < EARLIEST:
        raise ValueError("time before 2000")
    return at

"""The two decks the playback engine plays on, and what can go wrong with a file on them.

A deck is a QMediaPlayer with its own QAudioOutput and the play it carries. The players
are built as plain C++ objects (see _NativeObjects). A track is checked before it is
opened (source_problem) and watched while it plays (stall_reason): random bytes stall
FFmpeg with no error and a duration of 0, so silence for too long is a failure too.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

from PySide6.QtCore import QLoggingCategory, QObject, QUrl
from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer

from player import history
from player.queue import PlayableTrack, QueueItem
from player.replaygain import output_volume

log = logging.getLogger(__name__)


@dataclass
class Session:
    """One play in progress on a deck."""

    item: QueueItem
    track: PlayableTrack
    started_at: float = field(default_factory=time.time)
    clock: history.HeardClock = field(default_factory=history.HeardClock)
    since_mono: float = field(default_factory=time.monotonic)  # last sign of life
    progressed: bool = False  # audio has come out at least once
    fading_out: bool = False


class _NativeObjects:
    """Builds QMediaPlayer and QAudioOutput as plain C++ objects, not PySide subclasses.

    A QObject made from Python is a PySide wrapper whose connectNotify/disconnectNotify
    take the GIL. Qt's FFmpeg audio thread tears its sink down (disconnecting from the
    output) while the main thread, holding the GIL inside a player call, waits for the
    same connection lock: a deadlock, seen about once in fifty track changes. Objects
    constructed by Qt's own constructors (through ctypes, which releases the GIL) have
    no such overrides; Python still drives them through shiboken6.wrapInstance.
    """

    SIZE = 256  # bytes; both classes hold only QObject's vtable and d-pointer (16)

    def __init__(self) -> None:
        import ctypes

        import shiboken6
        from PySide6 import QtMultimedia

        lib = ctypes.CDLL(os.path.join(os.path.dirname(QtMultimedia.__file__), "Qt", "lib",
                                       "libQt6Multimedia.so.6"))
        self._ctypes = ctypes
        self._shiboken = shiboken6
        # operator new, so that Qt's delete (when the parent goes) frees what it expects
        self._new = ctypes.CDLL("libstdc++.so.6")._Znwm
        self._new.argtypes = [ctypes.c_size_t]
        self._new.restype = ctypes.c_void_p
        self._ctors = {
            QMediaPlayer: lib._ZN12QMediaPlayerC1EP7QObject,
            QAudioOutput: lib._ZN12QAudioOutputC1EP7QObject,
        }
        for ctor in self._ctors.values():
            ctor.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
            ctor.restype = None

    def make(self, cls: type[QObject], parent: QObject) -> QObject:
        """Return a new cls owned by parent (Qt deletes it with the parent)."""
        memory = self._new(self.SIZE)
        self._ctors[cls](memory, self._shiboken.getCppPointer(parent)[0])
        return self._shiboken.wrapInstance(memory, cls)  # type: ignore[return-value]


_native: _NativeObjects | None = None


def _make(cls: type[QObject], parent: QObject) -> QObject:
    """Return cls(parent) built natively when possible (see _NativeObjects)."""
    global _native
    try:
        if _native is None:
            _native = _NativeObjects()
        return _native.make(cls, parent)
    except (OSError, AttributeError):  # not Linux, or another Qt build: plain PySide
        log.info("building %s through PySide", cls.__name__)
        return cls(parent)


# Qt Multimedia's FFmpeg backend prints its version and a dump of every file it opens
# ("Input #0, flac, from ...", the tags, the streams) at info level: noise on the terminal
# of `timbre play` and of the window. Warnings stay; QT_LOGGING_RULES still overrides this.
_QUIET_INFO = "qt.multimedia*.info=false"


class Deck:
    """A QMediaPlayer and its output, with the play it carries."""

    def __init__(self, parent: QObject) -> None:
        QLoggingCategory.setFilterRules(_QUIET_INFO)
        self.player: QMediaPlayer = _make(QMediaPlayer, parent)  # type: ignore[assignment]
        self.output: QAudioOutput = _make(QAudioOutput, parent)  # type: ignore[assignment]
        self.player.setAudioOutput(self.output)
        self.session: Session | None = None
        self.preloaded: QueueItem | None = None
        self.gain = 1.0
        self.fade = 1.0
        self.generation = 0  # bumped per source and per play: stale events are dropped

    def load(self, track: PlayableTrack) -> None:
        """Open the track's file (events from the file before are stale from now on)."""
        self.generation += 1
        self.player.setSource(QUrl.fromLocalFile(track.path))

    def apply_volume(self, volume: float, *, muted: bool) -> None:
        """Set the output from the user's volume, this deck's ReplayGain and its fade."""
        self.output.setVolume(output_volume(volume, self.gain, muted=muted) * self.fade)


def source_problem(track: PlayableTrack) -> str | None:
    """Return why a track's file cannot be played before trying, or None."""
    try:
        track.path_bytes.decode("utf-8")
    except UnicodeDecodeError:
        return "the file name is not valid UTF-8, which Qt Multimedia cannot open"
    if not os.path.exists(track.path_bytes):
        return "file not found"
    if os.path.isdir(track.path_bytes):
        return "not a file"
    if not os.access(track.path_bytes, os.R_OK):
        return "permission denied"
    return None


def stall_reason(deck: Deck, now_mono: float, watchdog_s: float) -> str | None:
    """Return why the deck's play has failed when it has been silent too long, else None."""
    session = deck.session
    if session is None or deck.player.playbackState() != QMediaPlayer.PlaybackState.PlayingState:
        return None
    if now_mono - session.since_mono <= watchdog_s:
        return None
    what = "playback stalled" if session.progressed else "no audio came out"
    return f"{what} after {watchdog_s:g} s (damaged or not an audio file)"

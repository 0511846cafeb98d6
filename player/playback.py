"""The playback engine: plays the queue with Qt Multimedia and records what was heard.

Two decks (a QMediaPlayer with its own QAudioOutput each) take turns: the idle deck
preloads the next track, so a transition is a play() on an already opened file, and
with a crossfade both decks play while their volumes cross. Qt Multimedia has no gapless
API; this is as close as it allows.

Every file is watched: a missing or unreadable file, a path Qt cannot take, a decoder
error, or audio that never starts (random bytes stall with no error and a duration of
0) ends the play as 'failed' with a reason, and the queue moves on.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer, QUrl, Signal
from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer

from player import history
from player.models import END_CLOSED, END_FAILED, END_FINISHED, END_STOPPED, Play, TrackId
from player.queue import (
    POSITION_KEY,
    REPEAT_MODES,
    PlayableTrack,
    PlayQueue,
    QueueItem,
    load_queue,
    load_state,
    load_tracks,
    save_queue,
    save_state,
)
from player.replaygain import GainTags, fade_factors, gain_scale, output_volume

log = logging.getLogger(__name__)

RESTART_THRESHOLD_MS = 3000  # previous() restarts the track when past this point
CHECKPOINT_MS = 5000  # how often the play in progress and the position are saved
TICK_MS = 50  # crossfade steps and watchdog checks
MAX_CROSSFADE_S = 10.0
FAILURES_KEY = "playback.failures"
FAILURES_KEPT = 200


@dataclass
class PlaybackSettings:
    """How the engine plays; the window's settings dialog edits these."""

    replaygain_mode: str = "track"  # off | track | album
    preamp_db: float = 0.0
    fallback_db: float = 0.0  # gain for tracks without ReplayGain tags
    crossfade_s: float = 0.0  # 0..10
    watchdog_s: float = 4.0  # no audio for this long: the file has failed


@dataclass
class _Session:
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


class _Deck:
    """A QMediaPlayer and its output, with the play it carries."""

    def __init__(self, parent: QObject) -> None:
        self.player: QMediaPlayer = _make(QMediaPlayer, parent)  # type: ignore[assignment]
        self.output: QAudioOutput = _make(QAudioOutput, parent)  # type: ignore[assignment]
        self.player.setAudioOutput(self.output)
        self.session: _Session | None = None
        self.preloaded: QueueItem | None = None
        self.gain = 1.0
        self.fade = 1.0
        self.generation = 0  # bumped per source and per play: stale events are dropped

    def load(self, track: PlayableTrack) -> None:
        self.generation += 1
        self.player.setSource(QUrl.fromLocalFile(track.path))


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


def record_failure(conn: sqlite3.Connection, track_id: TrackId, reason: str) -> None:
    """Keep why a track failed to play (newest FAILURES_KEPT, in the state table)."""
    text = load_state(conn, FAILURES_KEY)
    try:
        failures = json.loads(text) if text else []
    except ValueError:
        failures = []
    failures = [f for f in failures if isinstance(f, dict) and f.get("track_id") != track_id]
    failures.append({"track_id": int(track_id), "reason": reason, "at": time.time()})
    save_state(conn, FAILURES_KEY, failures[-FAILURES_KEPT:])


def recent_failures(conn: sqlite3.Connection) -> dict[TrackId, str]:
    """Return the recorded reason each recently failed track could not be played."""
    text = load_state(conn, FAILURES_KEY)
    try:
        failures = json.loads(text) if text else []
    except ValueError:
        return {}
    return {TrackId(int(f["track_id"])): str(f["reason"]) for f in failures
            if isinstance(f, dict) and "track_id" in f}


class PlaybackEngine(QObject):
    """Plays the queue, records plays, and tells the window and MPRIS what happens."""

    track_started = Signal(object)  # PlayableTrack
    track_failed = Signal(object, str)  # PlayableTrack, reason
    position_changed = Signal(int)  # ms into the current track
    duration_changed = Signal(int)  # ms
    state_changed = Signal(str)  # playing | paused | stopped
    queue_changed = Signal()
    play_recorded = Signal(object)  # Play, after it is stored
    volume_changed = Signal(float, bool)  # volume 0..1, muted
    modes_changed = Signal()  # shuffle or repeat
    seeked = Signal(int)  # ms, after a jump
    crossfade_started = Signal(object, object)  # outgoing, incoming PlayableTrack
    queue_finished = Signal()  # the end of the queue, or every track failed

    def __init__(self, conn: sqlite3.Connection, settings: PlaybackSettings | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._conn = conn
        self.settings = settings or PlaybackSettings()
        self.queue = PlayQueue()
        self._decks = [_Deck(self), _Deck(self)]
        self._cur = 0
        self._state = "stopped"
        self._volume = 1.0
        self._muted = False
        self._repeat = "off"
        self._failures = 0
        self._resume_ms = 0
        self._fade_start = 0.0
        self._fade_ms = 0
        for deck in self._decks:
            self._wire(deck)
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(self._on_tick)
        self._checkpoint = QTimer(self)
        self._checkpoint.setInterval(CHECKPOINT_MS)
        self._checkpoint.timeout.connect(self.save)

    # -- reading ---------------------------------------------------------------------
    @property
    def state(self) -> str:
        """Return playing, paused or stopped."""
        return self._state

    @property
    def current_track(self) -> PlayableTrack | None:
        """Return the track playing (or paused, or restored) now."""
        deck = self._deck
        if deck.session:
            return deck.session.track
        item = self.queue.current_item()
        return load_tracks(self._conn, [item.track_id]).get(item.track_id) if item else None

    @property
    def position_ms(self) -> int:
        """Return the position in the current track."""
        return int(self._deck.player.position()) if self._deck.session else self._resume_ms

    @property
    def duration_ms(self) -> int:
        """Return the current track's duration (from the decoder, else the library)."""
        if self._deck.session and self._deck.player.duration() > 0:
            return int(self._deck.player.duration())
        track = self.current_track
        return int((track.duration_s or 0) * 1000) if track else 0

    @property
    def volume(self) -> float:
        """Return the user's volume, 0..1."""
        return self._volume

    @property
    def muted(self) -> bool:
        """Return True when muted."""
        return self._muted

    @property
    def repeat(self) -> str:
        """Return off, track or queue."""
        return self._repeat

    @property
    def shuffle(self) -> bool:
        """Return True when the upcoming tracks are shuffled."""
        return self.queue.shuffle

    def has_next(self) -> bool:
        """Return True when next() has somewhere to go."""
        return self.queue.next_index("queue" if self._repeat == "queue" else "off") is not None

    def has_previous(self) -> bool:
        """Return True when previous() has somewhere to go (or can restart)."""
        return self.queue.current_item() is not None

    def is_crossfading(self) -> bool:
        """Return True while two decks play at once."""
        return any(d.session and d.session.fading_out for d in self._decks)

    @property
    def _deck(self) -> _Deck:
        return self._decks[self._cur]

    @property
    def _other(self) -> _Deck:
        return self._decks[1 - self._cur]

    # -- transport -------------------------------------------------------------------
    def play(self) -> None:
        """Start or resume playing."""
        deck = self._deck
        if deck.session and self._state == "paused":
            deck.session.since_mono = time.monotonic()
            deck.player.play()
            self._set_state("playing")
        elif self._state != "playing":
            index = max(self.queue.current, 0)
            if self.queue.items:
                self._start(index, end_reason=None, resume_ms=self._resume_ms)

    def pause(self) -> None:
        """Pause, keeping the position."""
        if self._state != "playing":
            return
        self._finish_fade()
        self._deck.player.pause()
        if self._deck.session:
            self._deck.session.clock.pause()
        self._set_state("paused")
        self.save()

    def play_pause(self) -> None:
        """Toggle between playing and paused."""
        self.pause() if self._state == "playing" else self.play()

    def stop(self) -> None:
        """Stop playing; the play ends as 'stopped'."""
        self._finish_fade()
        self._end_session(self._deck, END_STOPPED)
        self._resume_ms = 0
        self._set_state("stopped")
        self.save()

    def next(self) -> None:
        """Go to the next track (the user's action: a skip if early)."""
        index = self.queue.next_index("queue" if self._repeat == "queue" else "off")
        if index is None:
            self.stop()
            return
        self._wrap_if_needed(index)
        self._start(index, end_reason="user")

    def previous(self) -> None:
        """Restart the track when past 3 s, else go to the previous one."""
        if self._deck.session and self._deck.player.position() > RESTART_THRESHOLD_MS:
            self.seek(0)
            return
        index = self.queue.previous_index()
        if index is None:
            if self._deck.session:
                self.seek(0)
            return
        self._start(index, end_reason="user")

    def jump_to(self, index: int) -> None:
        """Play the queue item at index now."""
        if 0 <= index < len(self.queue):
            self._start(index, end_reason="user")

    def seek(self, position_ms: int) -> None:
        """Jump to a position in the current track."""
        position_ms = max(0, int(position_ms))
        if self._deck.session:
            self._deck.player.setPosition(position_ms)
            self._deck.session.since_mono = time.monotonic()
        else:
            self._resume_ms = position_ms
        self.seeked.emit(position_ms)
        self.position_changed.emit(position_ms)

    def set_volume(self, volume: float) -> None:
        """Set the user's volume, 0..1 (ReplayGain is applied on top)."""
        self._volume = max(0.0, min(1.0, float(volume)))
        self._apply_volumes()
        self.volume_changed.emit(self._volume, self._muted)

    def set_muted(self, muted: bool) -> None:
        """Mute or unmute."""
        self._muted = bool(muted)
        self._apply_volumes()
        self.volume_changed.emit(self._volume, self._muted)

    def set_repeat(self, mode: str) -> None:
        """Set the repeat mode: off, track or queue."""
        if mode not in REPEAT_MODES:
            raise ValueError(f"unknown repeat mode {mode!r}; expected one of {REPEAT_MODES}")
        self._repeat = mode
        self._after_queue_change()
        self.modes_changed.emit()

    def set_shuffle(self, on: bool) -> None:
        """Shuffle the upcoming tracks, or restore their order."""
        self.queue.set_shuffle(on)
        self._after_queue_change()
        self.modes_changed.emit()

    def set_crossfade(self, seconds: float) -> None:
        """Set the crossfade length, 0..10 s (0: none)."""
        self.settings.crossfade_s = max(0.0, min(MAX_CROSSFADE_S, float(seconds)))

    def set_replaygain(self, mode: str, preamp_db: float = 0.0) -> None:
        """Set the ReplayGain mode and pre-amp; applies to the playing track at once."""
        gain_scale(GainTags(), mode)  # validates the mode
        self.settings.replaygain_mode = mode
        self.settings.preamp_db = preamp_db
        for deck in self._decks:
            if deck.session:
                deck.gain = self._gain_for(deck.session.track)
        self._apply_volumes()

    # -- the queue -------------------------------------------------------------------
    def play_tracks(self, ids: list[TrackId], *, start: int = 0, source: str = "library",
                    source_ref: str | None = None) -> None:
        """Replace the queue with ids and play from start."""
        self.queue.replace(ids, start=start, source=source, source_ref=source_ref)
        self._after_queue_change()
        if self.queue.items:
            self._start(self.queue.current, end_reason="user")

    def play_now(self, ids: list[TrackId], *, source: str = "library",
                 source_ref: str | None = None) -> None:
        """Insert ids after the current track and play the first of them."""
        self.queue.play_now(ids, source=source, source_ref=source_ref)
        self._after_queue_change()
        if ids:
            self._start(self.queue.current, end_reason="user")

    def play_next(self, ids: list[TrackId], *, source: str = "library",
                  source_ref: str | None = None) -> None:
        """Queue ids right after the current track."""
        self.queue.play_next(ids, source=source, source_ref=source_ref)
        self._after_queue_change()

    def enqueue(self, ids: list[TrackId], *, source: str = "library",
                source_ref: str | None = None) -> None:
        """Add ids at the end of the queue."""
        self.queue.add(ids, source=source, source_ref=source_ref)
        self._after_queue_change()

    def remove(self, indices: list[int]) -> None:
        """Remove queue items; removing the playing one moves on to the next."""
        playing = self.queue.current in indices and self._deck.session is not None
        self.queue.remove(indices)
        self._after_queue_change()
        if playing:
            if self.queue.current_item() and self._state == "playing":
                self._start(self.queue.current, end_reason="user")
            else:
                self.stop()

    def move(self, src: int, dst: int) -> None:
        """Move a queue item."""
        self.queue.move(src, dst)
        self._after_queue_change()

    def clear(self) -> None:
        """Stop and empty the queue."""
        self.stop()
        self.queue.clear()
        self._after_queue_change()

    # -- persistence -----------------------------------------------------------------
    def restore(self) -> Play | None:
        """Recover a killed session's play, then reload the queue, position and volume.

        Returns the recovered play, if any. Playback is left paused where it was.
        """
        recovered = history.recover_interrupted_play(self._conn)
        if recovered:
            self.play_recorded.emit(recovered)
        self.queue = load_queue(self._conn)
        text = load_state(self._conn, POSITION_KEY)
        if text:
            try:
                saved = json.loads(text)
                self._resume_ms = max(0, int(saved.get("position_ms", 0)))
                self._volume = max(0.0, min(1.0, float(saved.get("volume", 1.0))))
                self._muted = bool(saved.get("muted", False))
                repeat = saved.get("repeat", "off")
                self._repeat = repeat if repeat in REPEAT_MODES else "off"
                self.settings.crossfade_s = float(saved.get("crossfade_s",
                                                            self.settings.crossfade_s))
            except (ValueError, TypeError, AttributeError):
                log.warning("ignoring a damaged saved playback position")
        self._set_state("paused" if self.queue.current_item() and self._resume_ms else "stopped")
        self.queue_changed.emit()
        self.modes_changed.emit()
        self.volume_changed.emit(self._volume, self._muted)
        return recovered

    def save(self) -> None:
        """Save the queue, the position and the play in progress."""
        save_queue(self._conn, self.queue)
        save_state(self._conn, POSITION_KEY, {
            "position_ms": self.position_ms, "volume": self._volume, "muted": self._muted,
            "repeat": self._repeat, "crossfade_s": self.settings.crossfade_s,
        })
        session = self._deck.session
        if session:
            history.checkpoint_current_play(self._conn, self._play_of(session, END_CLOSED))

    def close(self) -> None:
        """End the play in progress as 'closed' and save everything (app exit)."""
        self.save()
        position = self.position_ms
        for deck in self._decks:
            self._end_session(deck, END_CLOSED)
        self._resume_ms = position
        self._tick.stop()
        self._checkpoint.stop()
        for deck in self._decks:  # release the decoders before Qt tears the players down
            deck.preloaded = None
            deck.player.setSource(QUrl())
        save_state(self._conn, POSITION_KEY, {
            "position_ms": position, "volume": self._volume, "muted": self._muted,
            "repeat": self._repeat, "crossfade_s": self.settings.crossfade_s,
        })

    # -- starting and ending plays -----------------------------------------------------
    def _start(self, index: int, *, end_reason: str | None, resume_ms: int = 0,
               crossfade: bool = False) -> None:
        """Make queue item index current and play it on a deck."""
        if not crossfade:
            self._finish_fade()
            if end_reason is not None:
                self._end_session(self._deck, end_reason)
        item = self.queue.go_to(index)
        if item is None:
            return
        track = load_tracks(self._conn, [item.track_id]).get(item.track_id)
        if track is None:
            self._fail_item(item, None, "the track is no longer in the library")
            return
        if self._other.preloaded and self._other.preloaded.uid == item.uid and \
                not self._other.session:
            self._cur = 1 - self._cur  # the idle deck already opened this file
        elif crossfade:
            self._cur = 1 - self._cur
            self._deck.preloaded = None
        deck = self._deck
        deck.session = _Session(item, track)
        deck.generation += 1
        problem = source_problem(track)
        if problem:
            self._fail(deck, problem)
            return
        if deck.preloaded is None or deck.preloaded.uid != item.uid:
            deck.load(track)
        deck.preloaded = None
        deck.gain = self._gain_for(track)
        deck.fade = 0.0 if crossfade else 1.0
        self._apply_volume(deck)
        if resume_ms:
            deck.player.setPosition(resume_ms)
        self._resume_ms = 0
        if deck.player.mediaStatus() == QMediaPlayer.MediaStatus.InvalidMedia:
            self._fail(deck, deck.player.errorString() or "not a playable audio file")
            return
        deck.player.play()
        self._set_state("playing")
        self.track_started.emit(track)
        self.queue_changed.emit()
        self.save()
        if not crossfade:
            self._preload()

    def _end_session(self, deck: _Deck, reason: str) -> None:
        """Record the deck's play (if any) and stop the deck."""
        session = deck.session
        if session is None:
            return
        session.clock.pause()
        deck.session = None
        deck.player.stop()
        if reason == END_FAILED:
            deck.player.setSource(QUrl())  # let go of a stalled demuxer now
        if reason == "user":
            reason = history.end_reason_for_user_action(session.clock.heard_ms,
                                                        self._duration_s(deck, session))
        play = self._play_of(session, reason, deck)
        history.finish_play(self._conn, play)
        self.play_recorded.emit(play)

    def _play_of(self, session: _Session, reason: str, deck: _Deck | None = None) -> Play:
        duration_s = self._duration_s(deck, session) if deck else session.track.duration_s
        heard = session.clock.heard_ms
        return Play(
            track_id=session.track.id, started_at=session.started_at, ended_at=time.time(),
            heard_ms=heard, fraction=history.fraction_heard(heard, duration_s),
            end_reason=reason, source=session.item.source, source_ref=session.item.source_ref,
            duration_s=duration_s,
        )

    def _duration_s(self, deck: _Deck | None, session: _Session) -> float | None:
        if deck is not None and deck.player.duration() > 0:
            return deck.player.duration() / 1000.0
        return session.track.duration_s

    def _fail(self, deck: _Deck, reason: str) -> None:
        """End the deck's play as failed, say why, and move on (later, not re-entrantly)."""
        session = deck.session
        if session is None:
            return
        log.warning("cannot play %s: %s", session.track.path, reason)
        self._end_session(deck, END_FAILED)
        self._fail_item(session.item, session.track, reason)

    def _fail_item(self, item: QueueItem, track: PlayableTrack | None, reason: str) -> None:
        record_failure(self._conn, item.track_id, reason)
        self.track_failed.emit(track, reason)
        self._failures += 1
        if self._failures >= max(1, len(self.queue)):
            self._failures = 0
            self._set_state("stopped")  # everything failed: stop rather than spin
            self.queue_finished.emit()
            return
        index = self.queue.next_index("off" if self._repeat == "off" else "queue")
        if index is None:
            self._set_state("stopped")
            self.queue_finished.emit()
            return
        QTimer.singleShot(0, lambda: self._start(index, end_reason=None))

    def _preload(self) -> None:
        """Open the next track on the idle deck, ready to play at once."""
        other = self._other
        if other.session:
            return
        index = self.queue.next_index(self._repeat)
        item = self.queue.items[index] if index is not None else None
        if item is None or (other.preloaded and other.preloaded.uid == item.uid):
            return
        track = load_tracks(self._conn, [item.track_id]).get(item.track_id)
        other.preloaded = None
        if track is None or source_problem(track):
            return
        other.load(track)
        other.preloaded = item

    def _wrap_if_needed(self, index: int) -> None:
        if index <= self.queue.current and self._repeat == "queue" and self.queue.shuffle:
            self.queue.reshuffle()

    def _after_queue_change(self) -> None:
        self._preload()
        save_queue(self._conn, self.queue)
        self.queue_changed.emit()

    # -- volume and crossfade ----------------------------------------------------------
    def _gain_for(self, track: PlayableTrack) -> float:
        tags = GainTags(track.rg_track_gain, track.rg_track_peak, track.rg_album_gain,
                        track.rg_album_peak)
        s = self.settings
        return gain_scale(tags, s.replaygain_mode, preamp_db=s.preamp_db,
                          fallback_db=s.fallback_db)

    def _apply_volume(self, deck: _Deck) -> None:
        deck.output.setVolume(output_volume(self._volume, deck.gain, muted=self._muted)
                              * deck.fade)

    def _apply_volumes(self) -> None:
        for deck in self._decks:
            self._apply_volume(deck)

    def _begin_crossfade(self, remaining_ms: int) -> None:
        index = self.queue.next_index(self._repeat)
        if index is None:
            return
        outgoing = self._deck
        assert outgoing.session is not None
        outgoing.session.fading_out = True
        self._fade_start = time.monotonic()
        self._fade_ms = max(1, remaining_ms)
        self._wrap_if_needed(index)
        self._start(index, end_reason=None, crossfade=True)
        if self._deck.session and outgoing.session:
            self.crossfade_started.emit(outgoing.session.track, self._deck.session.track)

    def _finish_fade(self) -> None:
        """End a crossfade now: the outgoing play counts as finished."""
        for deck in self._decks:
            if deck.session and deck.session.fading_out:
                self._end_session(deck, END_FINISHED)
        if self._deck.session:
            self._deck.fade = 1.0
            self._apply_volume(self._deck)
            self._preload()

    # -- Qt signals ------------------------------------------------------------------
    def _wire(self, deck: _Deck) -> None:
        p = deck.player
        p.positionChanged.connect(lambda pos, d=deck: self._on_player_position(d, pos))
        # Ends and errors are handled on the next turn of the event loop: the handlers stop
        # and reload players, which must not happen inside the emitting player's own call
        # (the FFmpeg backend crashed on that).
        p.mediaStatusChanged.connect(lambda st, d=deck: self._later(d, self._on_player_status, st))
        p.errorOccurred.connect(
            lambda err, text, d=deck: self._later(d, self._on_player_error, err, text))
        p.durationChanged.connect(
            lambda ms, d=deck: self.duration_changed.emit(int(ms)) if d is self._deck else None)

    def _on_player_position(self, deck: _Deck, position: int) -> None:
        session = deck.session
        if session is None or deck.player.playbackState() != QMediaPlayer.PlaybackState.PlayingState:
            return
        session.since_mono = time.monotonic()
        if position > 0:
            session.clock.start()
            if not session.progressed:
                session.progressed = True
                self._failures = 0
        if deck is not self._deck:
            return
        self.position_changed.emit(int(position))
        duration = deck.player.duration()
        fade_ms = int(self.settings.crossfade_s * 1000)
        remaining = duration - position
        if (fade_ms > 0 and duration > 2 * fade_ms and not session.fading_out
                and 0 < remaining <= fade_ms and self._state == "playing"):
            self._begin_crossfade(remaining)

    def _later(self, deck: _Deck, handler: Callable[..., None], *args: object) -> None:
        generation = deck.generation

        def run() -> None:
            if deck.generation == generation:
                handler(deck, *args)

        QTimer.singleShot(0, self, run)

    def _on_player_status(self, deck: _Deck, status: QMediaPlayer.MediaStatus) -> None:
        session = deck.session
        if session is None:
            return
        if status == QMediaPlayer.MediaStatus.InvalidMedia:
            self._fail(deck, deck.player.errorString() or "not a playable audio file")
        elif status == QMediaPlayer.MediaStatus.EndOfMedia:
            session.clock.pause()
            if not session.progressed and deck.player.duration() <= 0:
                self._fail(deck, "the file holds no playable audio")
            elif session.fading_out:
                self._end_session(deck, END_FINISHED)
                self._finish_fade()
            elif deck is self._deck:
                self._on_track_end()

    def _on_track_end(self) -> None:
        self._end_session(self._deck, END_FINISHED)
        index = self.queue.next_index(self._repeat)
        if index is None:
            self._resume_ms = 0
            self._set_state("stopped")
            self.save()
            self.queue_finished.emit()
            return
        self._wrap_if_needed(index)
        self._start(index, end_reason=None)

    def _on_player_error(self, deck: _Deck, error: QMediaPlayer.Error, text: str) -> None:
        if error != QMediaPlayer.Error.NoError and deck.session is not None:
            self._fail(deck, text or str(error))

    def _on_tick(self) -> None:
        """Step a crossfade, and fail a deck that has been silent too long."""
        if self.is_crossfading():
            out, inc = fade_factors(int((time.monotonic() - self._fade_start) * 1000),
                                    self._fade_ms)
            for deck in self._decks:
                if deck.session:
                    deck.fade = out if deck.session.fading_out else inc
                    self._apply_volume(deck)
        now = time.monotonic()
        for deck in list(self._decks):
            session = deck.session
            if session is None or deck.player.playbackState() != \
                    QMediaPlayer.PlaybackState.PlayingState:
                continue
            if now - session.since_mono > self.settings.watchdog_s:
                what = "playback stalled" if session.progressed else "no audio came out"
                self._fail(deck, f"{what} after {self.settings.watchdog_s:g} s "
                                 "(damaged or not an audio file)")

    def _set_state(self, state: str) -> None:
        if state == "playing":
            self._tick.start()
            self._checkpoint.start()
        else:
            self._tick.stop()
            self._checkpoint.stop()
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)

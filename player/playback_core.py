"""The machinery under the playback engine: plays on two decks, their ends and failures.

PlaybackCore starts a queue item on a deck, records the play when it ends, preloads the
next track on the idle deck, crossfades, applies ReplayGain, reacts to the players'
events and runs the watchdog. PlaybackEngine (player.playback) adds the public
transport, queue and persistence API on top of it.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, QUrl, Signal
from PySide6.QtMultimedia import QMediaPlayer

from player import history
from player.decks import Deck, Session, source_problem, stall_reason
from player.models import END_CLOSED, END_FAILED, END_FINISHED, Play
from player.playback_state import PlaybackSettings, record_failure
from player.queue import (
    POSITION_KEY,
    PlayableTrack,
    PlayQueue,
    QueueItem,
    load_tracks,
    save_queue,
    save_state,
)
from player.replaygain import GainTags, fade_factors, gain_scale

log = logging.getLogger("player.playback")

CHECKPOINT_MS = 5000  # how often the play in progress and the position are saved
TICK_MS = 50  # crossfade steps and watchdog checks


class PlaybackCore(QObject):
    """Plays queue items on two decks that take turns and records each play."""

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
        self._decks = [Deck(self), Deck(self)]
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

    @property
    def position_ms(self) -> int:
        """Return the position in the current track."""
        return int(self._deck.player.position()) if self._deck.session else self._resume_ms

    def is_crossfading(self) -> bool:
        """Return True while two decks play at once."""
        return any(d.session and d.session.fading_out for d in self._decks)

    @property
    def _deck(self) -> Deck:
        return self._decks[self._cur]

    @property
    def _other(self) -> Deck:
        return self._decks[1 - self._cur]

    def save(self) -> None:
        """Save the queue, the position and the play in progress."""
        save_queue(self._conn, self.queue)
        self._save_position(self.position_ms)
        session = self._deck.session
        if session:
            history.checkpoint_current_play(self._conn, self._play_of(session, END_CLOSED))

    def _save_position(self, position_ms: int) -> None:
        save_state(self._conn, POSITION_KEY, {
            "position_ms": position_ms, "volume": self._volume, "muted": self._muted,
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
        deck.session = Session(item, track)
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

    def _end_session(self, deck: Deck, reason: str) -> None:
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

    def _play_of(self, session: Session, reason: str, deck: Deck | None = None) -> Play:
        duration_s = self._duration_s(deck, session) if deck else session.track.duration_s
        heard = session.clock.heard_ms
        return Play(
            track_id=session.track.id, started_at=session.started_at, ended_at=time.time(),
            heard_ms=heard, fraction=history.fraction_heard(heard, duration_s),
            end_reason=reason, source=session.item.source, source_ref=session.item.source_ref,
            duration_s=duration_s,
        )

    def _duration_s(self, deck: Deck | None, session: Session) -> float | None:
        if deck is not None and deck.player.duration() > 0:
            return deck.player.duration() / 1000.0
        return session.track.duration_s

    def _fail(self, deck: Deck, reason: str) -> None:
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


    # -- volume and crossfade ----------------------------------------------------------
    def _gain_for(self, track: PlayableTrack) -> float:
        tags = GainTags(track.rg_track_gain, track.rg_track_peak, track.rg_album_gain,
                        track.rg_album_peak)
        s = self.settings
        return gain_scale(tags, s.replaygain_mode, preamp_db=s.preamp_db,
                          fallback_db=s.fallback_db)

    def _apply_volume(self, deck: Deck) -> None:
        deck.apply_volume(self._volume, muted=self._muted)

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
    def _wire(self, deck: Deck) -> None:
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

    def _on_player_position(self, deck: Deck, position: int) -> None:
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

    def _later(self, deck: Deck, handler: Callable[..., None], *args: object) -> None:
        generation = deck.generation

        def run() -> None:
            if deck.generation == generation:
                handler(deck, *args)

        QTimer.singleShot(0, self, run)

    def _on_player_status(self, deck: Deck, status: QMediaPlayer.MediaStatus) -> None:
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

    def _on_player_error(self, deck: Deck, error: QMediaPlayer.Error, text: str) -> None:
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
            reason = stall_reason(deck, now, self.settings.watchdog_s)
            if reason is not None:
                self._fail(deck, reason)

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

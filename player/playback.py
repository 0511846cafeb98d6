"""The playback engine: plays the queue with Qt Multimedia and records what was heard.

Two decks (a QMediaPlayer with its own QAudioOutput each) take turns: the idle deck
preloads the next track, so a transition is a play() on an already opened file, and
with a crossfade both decks play while their volumes cross. Qt Multimedia has no gapless
API; this is as close as it allows.

Every file is watched: a missing or unreadable file, a path Qt cannot take, a decoder
error, or audio that never starts (random bytes stall with no error and a duration of
0) ends the play as 'failed' with a reason, and the queue moves on.

The decks and the files' checks live in player.decks, how plays start, end and fail on
them in player.playback_core, and the settings and what is kept between runs in
player.playback_state; this module is the engine's public face.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping

from PySide6.QtCore import QUrl

from player import history
from player.decks import source_problem
from player.models import END_CLOSED, END_STOPPED, Play, TrackId
from player.playback_core import CHECKPOINT_MS, TICK_MS, PlaybackCore
from player.playback_state import (
    FAILURES_KEPT,
    FAILURES_KEY,
    PlaybackSettings,
    recent_failures,
    record_failure,
)
from player.queue import (
    POSITION_KEY,
    REPEAT_MODES,
    PlayableTrack,
    load_queue,
    load_state,
    load_tracks,
    save_queue,
)
from player.replaygain import GainTags, gain_scale

__all__ = [
    "CHECKPOINT_MS", "FAILURES_KEPT", "FAILURES_KEY", "MAX_CROSSFADE_S", "RESTART_THRESHOLD_MS",
    "TICK_MS", "PlaybackEngine", "PlaybackSettings", "recent_failures", "record_failure",
    "source_problem",
]

log = logging.getLogger(__name__)

RESTART_THRESHOLD_MS = 3000  # previous() restarts the track when past this point
MAX_CROSSFADE_S = 10.0


class PlaybackEngine(PlaybackCore):
    """Plays the queue, records plays, and tells the window and MPRIS what happens."""

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
                    source_ref: str | None = None, why: Mapping[TrackId, str] | None = None) -> None:
        """Replace the queue with ids and play from start (why: each pick's reason)."""
        self.queue.replace(ids, start=start, source=source, source_ref=source_ref, why=why)
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
                source_ref: str | None = None, why: Mapping[TrackId, str] | None = None) -> None:
        """Add ids at the end of the queue (why: each pick's reason)."""
        self.queue.add(ids, source=source, source_ref=source_ref, why=why)
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
        self._save_position(position)


    def _after_queue_change(self) -> None:
        self._preload()
        save_queue(self._conn, self.queue)
        self.queue_changed.emit()


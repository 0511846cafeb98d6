"""Connects the playback engine to the now-playing bar, the queue panel and the views."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from player import browse
from ui.models import TrackTableModel
from ui.queue_model import drop_moves
from ui.views.nowplaying import NowPlayingBar, QueuePanel
from ui.views.recommend import Recommendations


class PlaybackLink(QObject):
    """Shows what playback does, and turns what the user does into playback calls.

    `track_changed(title)`: a new track started (the window sets its title).
    `played(play)`: a play was recorded (history and For you follow).
    `queue_low(source)`: the queue from a radio or For you is about to run out.
    `message(text)`: a short status-bar note.
    """

    track_changed = Signal(str)
    played = Signal(object)
    queue_low = Signal(str)
    message = Signal(str)

    def __init__(self, playback: Any, conn: sqlite3.Connection, bar: NowPlayingBar,
                 queue_panel: QueuePanel, track_models: Sequence[TrackTableModel],
                 recs: Recommendations, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pb = playback
        self._conn = conn
        self._bar = bar
        self._panel = queue_panel
        self._queue_model = queue_panel.model
        self._models = track_models
        self._recs = recs
        self._on_like: Callable[[], None] | None = None
        pb = playback
        bar.play_pause.connect(pb.play_pause)
        bar.previous.connect(pb.previous)
        bar.next.connect(pb.next)
        bar.seek.connect(pb.seek)
        bar.volume_changed.connect(lambda v: pb.set_volume(v / 100))
        bar.shuffle_toggled.connect(pb.set_shuffle)
        bar.repeat_changed.connect(pb.set_repeat)
        pb.track_started.connect(self._on_playback_track_started)
        pb.position_changed.connect(lambda ms: bar.set_position(ms))
        pb.duration_changed.connect(lambda ms: bar.set_position(pb.position_ms, ms))
        pb.state_changed.connect(lambda state: bar.set_playing(state == "playing"))
        pb.volume_changed.connect(lambda v, muted: bar.set_volume(0 if muted else round(v * 100)))
        pb.modes_changed.connect(self._on_playback_modes_changed)
        pb.queue_changed.connect(self._on_playback_queue_changed)
        pb.play_recorded.connect(self._on_playback_play_recorded)
        pb.track_failed.connect(self._on_playback_track_failed)
        self._queue_model.move_requested.connect(self._on_queue_move_requested)
        queue_panel.remove_rows.connect(lambda rows: pb.remove(list(rows)))
        queue_panel.clear.connect(pb.clear)
        queue_panel.activate_row.connect(pb.jump_to)

    def show_state(self) -> None:
        """Show the restored queue, modes, volume and track (at start-up)."""
        self._on_playback_queue_changed()
        self._on_playback_modes_changed()
        self._bar.set_volume(round(self.pb.volume * 100))
        track = self.pb.current_track
        if track is not None:
            self._on_playback_track_started(track)
            self._bar.set_position(self.pb.position_ms, self.pb.duration_ms)

    def _on_playback_track_started(self, track: Any) -> None:
        row = browse.row(self._conn, track.id)
        thumb, _image = browse.cover_paths(self._conn, track.id)
        cover = QImage(thumb) if thumb else None  # a thumbnail: a few KB from the cache
        self._bar.set_track(row, cover)
        self.track_changed.emit(track.title)
        for model in self._models:
            model.set_current(track.id)
        item = self.pb.queue.current_item()
        if item is not None and item.source != "radio":
            self._recs.stop_radio()

    def _on_playback_modes_changed(self) -> None:
        self._bar.set_shuffle(self.pb.shuffle)
        self._bar.set_repeat(self.pb.repeat)

    def _on_playback_queue_changed(self) -> None:
        queue = self.pb.queue
        item = queue.current_item()
        reasons = {i.track_id: i.why for i in queue.items if i.why}
        self._queue_model.set_ids([i.track_id for i in queue.items], reasons)
        self._queue_model.set_current(item.track_id if item else None)
        self._panel.heading.setText(f"Queue · {len(queue.items)}")
        low = queue.running_low(self.pb.repeat)
        if low is not None:
            self.queue_low.emit(low)

    def _on_playback_play_recorded(self, play: Any) -> None:
        if play.track_id is not None:
            self._recs.radio_played(play.track_id, play.end_reason == "skipped")
        for model in self._models:
            model.invalidate_rows()  # play counts and last played changed
        self.played.emit(play)

    def _on_playback_track_failed(self, track: Any, reason: str) -> None:
        title = getattr(track, "title", "a track")
        self.message.emit(f"Skipped {title}: {reason}")

    def _on_queue_move_requested(self, rows: list[int], to_row: int) -> None:
        for src, dst in drop_moves(len(self.pb.queue.items), rows, to_row):
            self.pb.move(src, dst)

"""The main window's listening side: For you, Play similar (the radio), likes and other
feedback, the Properties dialog, and what follows each play (the taste model and the
mixes relearn, the queue is topped up).

A mixin of MainWindow (ui/main_window.py); the engine's work runs in Recommendations
(ui/views/recommend.py) and playback's signals come through PlaybackLink
(ui/views/playback_link.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QStatusBar

from player import browse
from player.models import TrackId
from player.queue import ran_out
from ui.models import TrackTableModel
from ui.views.actions import TrackActions
from ui.views.foryou import ForYouPage
from ui.views.library_jobs import LibraryJobs
from ui.views.nowplaying import NowPlayingBar, QueuePanel
from ui.views.pages import HistoryPage
from ui.views.properties import PropertiesDialog, open_properties
from ui.views.recommend import Recommendations
from ui.workers import QueryRunner

LEARN_EVERY_PLAYS = 25  # plays between background updates of the taste model


class Listening:
    """React to picks, feedback and plays; start radios; open Properties."""

    # The window's parts this uses (built by MainWindow).
    conn: sqlite3.Connection
    settings: QSettings
    playback: Any  # player.playback.PlaybackEngine, or None
    recs: Recommendations
    jobs: LibraryJobs
    queries: QueryRunner
    actions_: TrackActions
    foryou: ForYouPage
    history: HistoryPage
    now_playing: NowPlayingBar
    queue_panel: QueuePanel
    _track_models: list[TrackTableModel]
    _foryou_stale: bool
    _foryou_picks: list[Any]
    _radio_seeds: list[TrackId]
    _plays_since_learning: int
    # and the other parts' methods
    statusBar: Callable[[], QStatusBar]  # QMainWindow's
    current_view: Callable[[], str]  # Navigation

    def refresh_foryou(self) -> None:
        """Recompute For you now if it is shown or feeds the queue, else when next shown."""
        item = self.playback.queue.current_item() if self.playback is not None else None
        if self.current_view() == "foryou" or (item is not None and item.source == "foryou"):
            self._foryou_stale = False
            self.foryou.request_refresh()
        else:
            self._foryou_stale = True

    # -- recommendations --------------------------------------------------------------------

    def play_similar(self, seeds: list[TrackId]) -> None:
        """Start a radio from seeds: the seed plays now, similar tracks follow."""
        self._radio_seeds = list(seeds)
        self.statusBar().showMessage("Finding similar tracks…", 3000)
        self.recs.start_radio(seeds)

    def _on_recs_radio_ready(self, picks: list[Any]) -> None:
        seeds = self._radio_seeds
        ids = list(seeds[:1]) + [p.track_id for p in picks]
        if self.playback is not None and ids:
            self.playback.play_tracks(ids, start=0, source="radio",
                                      source_ref=str(int(seeds[0])) if seeds else None,
                                      why=_reasons(picks))
        if picks:
            self.statusBar().showMessage(f"Radio: {len(picks)} similar tracks queued", 5000)
        else:  # an untagged track whose sound is not known: nothing to compare it by
            self.statusBar().showMessage(
                "No similar tracks: this track has no tags and its sound is not analysed "
                "(its Properties say why)", 8000)

    def _on_recs_radio_more(self, picks: list[Any]) -> None:
        if self.playback is not None and picks:
            self.playback.enqueue([p.track_id for p in picks], source="radio", why=_reasons(picks))
        elif not picks and self._radio_seeds:  # said once per radio, not at every track
            self._radio_seeds = []
            self.statusBar().showMessage(ran_out("The radio"), 8000)

    def _on_recs_picks_ready(self, picks: list[Any]) -> None:
        self.foryou.set_picks(picks)
        self._foryou_picks = picks

    def _on_recs_failed(self, kind: str, text: str) -> None:
        if kind == "foryou":
            self.foryou.set_error(f"No recommendations yet: {text}")
        else:
            self.statusBar().showMessage(f"Recommendations failed: {text}", 8000)

    def _on_foryou_play(self, ids: list[TrackId], row: int) -> None:
        self.recs.stop_radio()
        self.actions_.play(ids, row, "foryou", why=_reasons(self._foryou_picks))

    def _on_foryou_not_this(self, ids: list[TrackId]) -> None:
        self.actions_.not_this(ids)

    def _on_foryou_less_like_this(self, ids: list[TrackId]) -> None:
        self.actions_.less_like_this(ids)

    def _on_feedback_changed(self) -> None:
        for model in self._track_models:
            model.invalidate_rows()
        if self.playback is not None and self.playback.current_track is not None:
            self.now_playing.set_liked(
                browse.is_liked(self.conn, self.playback.current_track.id))
        self.refresh_foryou()

    def show_properties(self, track_id: TrackId) -> PropertiesDialog | None:
        """Open the Properties dialog for a track (with its suggested tags to answer)."""
        return open_properties(self, self.conn, self.queries, track_id,  # type: ignore[arg-type]
                               lambda: self._on_feedback_changed())

    # -- playback ---------------------------------------------------------------------------

    def _on_link_queue_low(self, source: str) -> None:
        if source == "radio":
            self.recs.more_radio()
        elif source == "foryou":
            # The picks were computed after the last play but one, so what was played
            # before that is left out by For you itself while it is recent, and may come
            # again in a day-long session.
            ahead = self.playback.queue.still_ahead()
            fresh = [p.track_id for p in self._foryou_picks if p.track_id not in ahead]
            if fresh:
                self.playback.enqueue(fresh[:10], source="foryou", why=_reasons(self._foryou_picks))
            self.foryou.request_refresh()

    def _on_link_played(self, _play: Any) -> None:
        self._plays_since_learning += 1
        if self._plays_since_learning >= LEARN_EVERY_PLAYS:
            self._plays_since_learning = 0
            self.jobs.learn_taste()  # the taste model learns the new plays in the background
            self.jobs.refresh_mixes()  # personal mixes follow the listening
        if self.current_view() == "history":
            self.history.refresh()
        self.refresh_foryou()  # For you follows the listening

    def _on_now_playing_queue_toggled(self, on: bool) -> None:
        self.queue_panel.setVisible(on)
        self.settings.setValue("window/queue_visible", on)

    def _on_now_playing_like(self) -> None:
        if self.playback is not None and self.playback.current_track is not None:
            self.actions_.toggle_like([self.playback.current_track.id])


def _reasons(picks: Sequence[Any]) -> dict[TrackId, str]:
    """Return why each recommender Pick was picked, for the queue to keep."""
    return {p.track_id: p.why for p in picks if p.why}

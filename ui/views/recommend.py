"""Recommendations off the GUI thread: For you picks, and radios started by Play similar."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, Signal

from player.models import TrackId
from ui.workers import JobThread

log = logging.getLogger(__name__)

EngineFactory = Callable[[], Any]  # returns a recommender.engine.Engine (own connection)


class Recommendations(QObject):
    """Runs the engine in one job at a time; a newer request of a kind replaces an older one.

    The engine is built on first use inside a job (fitting reads the whole library), and
    reused: it catches up with new plays and feedback by itself.
    """

    picks_ready = Signal(list)  # For you picks (objects with .track_id, .why)
    radio_ready = Signal(list)  # picks of the radio (the first call after start_radio)
    radio_more = Signal(list)  # more picks for a radio that is playing
    failed = Signal(str, str)  # kind, message

    def __init__(self, make_engine: EngineFactory | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._make_engine = make_engine
        self._engine: Any = None
        self._radio: Any = None
        self._thread: JobThread | None = None
        self._pending: dict[str, tuple[Callable[[], object], Signal]] = {}
        self._closed = False

    @property
    def available(self) -> bool:
        """Return True when an engine can be made."""
        return self._make_engine is not None

    def engine(self) -> Any:
        """Return the engine, building it (call from a job)."""
        if self._engine is None:
            assert self._make_engine is not None
            self._engine = self._make_engine()
        return self._engine

    def for_you(self, n: int, adventurousness: float, likes: Sequence[str] = ()) -> None:
        """Compute n For you picks (likes: a cold start's "genre:X", "mood:Y"); picks_ready
        follows."""
        likes = list(likes)
        self._submit("foryou", lambda: self.engine().for_you(n, adventurousness, likes),
                     self.picks_ready)

    def use_taste(self, result: object) -> None:
        """Hand a newly trained taste model ((model, what was done) from the job) to the engine."""
        if self._engine is not None and isinstance(result, tuple) and result:
            self._engine.set_taste(result[0])

    def start_radio(self, seeds: Sequence[TrackId], n: int = 25) -> None:
        """Start a radio from seeds; radio_ready follows with its first picks."""
        seeds = list(seeds)

        def job() -> object:
            self._radio = self.engine().radio(seeds)
            return list(self._radio.next(n))

        self._submit("radio", job, self.radio_ready)

    def more_radio(self, n: int = 10) -> None:
        """Fetch more picks for the radio playing now; radio_more follows."""
        if self._radio is not None:
            radio = self._radio
            self._submit("radio-more", lambda: list(radio.next(n)), self.radio_more)

    def stop_radio(self) -> None:
        """Forget the radio (the user played something else)."""
        self._radio = None

    def radio_played(self, track_id: TrackId, skipped: bool) -> None:
        """Tell the radio what was played, so its next picks follow the listening."""
        if self._radio is not None:
            try:
                self._radio.played(track_id, skipped=skipped)
            except Exception:  # the radio's own state; never break playback over it
                log.exception("radio.played failed")

    def shutdown(self) -> None:
        """Drop queued requests and wait for the running one (app exit)."""
        self._closed = True
        self._pending.clear()
        if self._thread is not None:
            self._thread.stop(30_000)

    def _submit(self, kind: str, call: Callable[[], object], done: Signal) -> None:
        if self._make_engine is None:
            self.failed.emit(kind, "Recommendations are not available.")
            return
        self._pending[kind] = (call, done)
        if self._thread is None:
            self._run_next()

    def _run_next(self) -> None:
        if not self._pending or self._closed:
            return
        kind = next(iter(self._pending))
        call, done = self._pending.pop(kind)
        thread = JobThread(lambda progress, cancel: call(), self)
        thread.succeeded.connect(lambda result: done.emit(list(result)))
        thread.failed.connect(lambda text, k=kind: self.failed.emit(k, text))
        thread.finished.connect(self._on_thread_finished)
        self._thread = thread
        thread.start()

    def _on_thread_finished(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.deleteLater()
        self._run_next()

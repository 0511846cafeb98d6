"""Run long jobs (scans, analysis, fitting, cover loading) off the GUI thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal

log = logging.getLogger(__name__)


class JobThread(QThread):
    """Runs one job on a new thread; its signals arrive on the GUI thread.

    The job is called as job(progress=..., cancel=...), where progress(done, total) may
    be called from the worker thread (a queued signal) and cancel is a threading.Event.
    """

    progress = Signal(int, int)
    succeeded = Signal(object)  # QThread already has `finished`
    failed = Signal(str)

    def __init__(self, job: Callable[..., object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job = job
        self.cancel = threading.Event()

    def run(self) -> None:  # the only code that runs on the new thread
        try:
            result = self._job(progress=self.progress.emit, cancel=self.cancel)
        except Exception as exc:
            log.exception("job failed")
            self.failed.emit(str(exc) or type(exc).__name__)
        else:
            self.succeeded.emit(result)

    def stop(self, wait_ms: int = 10_000) -> None:
        """Ask the job to stop and wait for the thread to end."""
        self.cancel.set()
        self.wait(wait_ms)


class QueryRunner(QObject):
    """Runs read queries on worker threads, each with its own database connection.

    run(key, query, apply): query(conn) runs off the GUI thread and apply(result) on it;
    a newer run with the same key makes an older result stale (it is dropped), so a
    view never shows an answer to a question the user has moved on from.
    """

    def __init__(self, open_conn: Callable[[], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._open = open_conn
        self._latest: dict[str, int] = {}
        self._threads: set[JobThread] = set()
        self._closed = False

    def run(self, key: str, query: Callable[[object], object],
            apply: Callable[[object], None]) -> None:
        """Run query(conn) in a worker, then apply(result) unless a newer run replaced it."""
        if self._closed:
            return
        generation = self._latest.get(key, 0) + 1
        self._latest[key] = generation

        def job(progress: object, cancel: object) -> object:
            conn = self._open()
            try:
                return query(conn)
            finally:
                conn.close()  # type: ignore[attr-defined]

        thread = JobThread(job, self)
        thread.succeeded.connect(
            lambda result: apply(result) if self._latest.get(key) == generation else None)
        thread.finished.connect(lambda: self._on_thread_finished(thread))
        self._threads.add(thread)
        thread.start()

    def busy(self) -> bool:
        """Return True while a query runs."""
        return bool(self._threads)

    def shutdown(self, ms: int = 30_000) -> None:
        """Start no more queries and wait for the running ones (app exit)."""
        self._closed = True
        for thread in list(self._threads):
            thread.wait(ms)

    def _on_thread_finished(self, thread: JobThread) -> None:
        self._threads.discard(thread)
        thread.deleteLater()

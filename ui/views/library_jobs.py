"""Scans and analysis in the background, with progress and cancel in the status bar, and
the music folders watched so that changes are picked up without a manual rescan."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QToolButton, QWidget

from player.db import connect
from player.library import list_roots, remove_root
from ui.views.child_jobs import ChildJobError, run_in_child
from ui.views.icons import icon
from ui.views.pages import plain_label
from ui.workers import JobThread

log = logging.getLogger(__name__)

ScanFn = Callable[..., object]  # scan(roots | None, db_path, *, progress, cancel)
AnalyzeFn = Callable[..., object]  # analyze(db_path, *, progress, cancel)
DemoFn = Callable[..., Path]  # generate(dest, *, progress, cancel) -> dest
LearnFn = Callable[[Path], object]  # recommender.cli_taste.train(db_path)
LEARN_LABEL = "Learning your taste"
MIXES_LABEL = "Making mixes"
MixesFn = Callable[[Path], object]  # recommender.cli_playlists_gen.refresh_mixes(db_path)
SCAN_LABELS = ("Scanning", "Checking for changes")
REMOVE_LABEL = "Removing folder"

REFRESH_MS = 1500  # how often views re-read the library while a job writes to it
RESCAN_MS = 15 * 60 * 1000  # a periodic incremental rescan catches what the watcher missed
WATCH_DEBOUNCE_MS = 2000  # a copy of 500 files is one rescan, not 500
MAX_WATCHED_DIRS = 4000  # inotify watches are a per-user resource; stay well below it


@dataclass
class Step:
    """One queued job: a label for the status bar and the callable."""

    label: str
    job: Callable[..., object]
    then: Callable[[object], None] | None = None


class JobStatus(QWidget):
    """The status-bar widget: what runs, a progress bar, and a cancel button."""

    cancel_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("jobStatus")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = plain_label("", object_name="jobLabel")
        self.bar = QProgressBar()
        self.bar.setFixedWidth(160)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(12)
        self.cancel = QToolButton()
        self.cancel.setIcon(icon("close"))
        self.cancel.setAutoRaise(True)
        self.cancel.setToolTip("Cancel")
        self.cancel.clicked.connect(self.cancel_clicked)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel)
        self.hide()

    def show_progress(self, label: str, done: int, total: int) -> None:
        """Show a running job's progress (total 0: unknown yet)."""
        self.show()
        self.bar.setRange(0, max(total, 0))
        self.bar.setValue(min(done, total) if total else 0)
        self.label.setText(f"{label} {done:,}/{total:,}" if total else f"{label}…")


class LibraryJobs(QObject):
    """Runs scan → analysis (and the demo generator) one after another, off the GUI thread.

    `library_changed` is emitted every REFRESH_MS while a job writes and once after it,
    so views fill as the library grows. `finished_all` when the queue of jobs is empty.
    """

    library_changed = Signal()
    analysis_finished = Signal()
    finished_all = Signal()
    message = Signal(str)
    busy_changed = Signal(bool)
    taste_learned = Signal(object)  # (TasteModel, what was done), from learn_taste()
    mixes_changed = Signal()  # the automatic mixes were saved anew
    folder_removed = Signal(int, int)  # root id, tracks that left the library

    def __init__(self, db_path: Path, status: JobStatus, *, scan: ScanFn | None,
                 analyze: AnalyzeFn | None, demo: DemoFn | None,
                 roots: Callable[[], Sequence[str]], learn_taste: LearnFn | None = None,
                 make_mixes: MixesFn | None = None, in_child: Mapping[str, str] | None = None,
                 parent: QObject | None = None) -> None:
        """Args:
            in_child: jobs to run in a child process instead of the given callable, by
                name ("scan", "analyze", "learn_taste", "make_mixes") as
                "module:function" taking the same arguments (ui/views/child_jobs.py).
        """
        super().__init__(parent)
        self._in_child = dict(in_child or {})
        self._removing: set[int] = set()  # root ids whose removal is queued
        self._db_path = db_path
        self._status = status
        self._scan = scan
        self._analyze = analyze
        self._demo = demo
        self._roots = roots
        self._learn_taste = learn_taste
        self._make_mixes = make_mixes
        self._steps: list[Step] = []
        self._thread: JobThread | None = None
        self._label = ""
        self._closed = False  # after shutdown() no job starts (queued signals may still come)
        status.cancel_clicked.connect(self.cancel)
        self._refresh = QTimer(self)
        self._refresh.setInterval(REFRESH_MS)
        self._refresh.timeout.connect(self.library_changed)
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(self._on_watcher_directory_changed)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(WATCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(lambda: self.rescan(quiet=True))
        self._periodic = QTimer(self)
        self._periodic.setInterval(RESCAN_MS)
        self._periodic.timeout.connect(lambda: self.rescan(quiet=True))

    # -- what the window asks ------------------------------------------------------------

    @property
    def can_scan(self) -> bool:
        """Return True when the scanner is available."""
        return self._scan is not None

    def is_busy(self) -> bool:
        """Return True while a job runs or waits."""
        return self._thread is not None or bool(self._steps)

    def add_folders(self, folders: Sequence[str]) -> None:
        """Add folders to the library: scan them, then analyse what is new."""
        if self._scan is None:
            self.message.emit("The scanner is not available")
            return
        self._queue_scan("Scanning", list(folders))
        self._queue_analysis()

    def rescan(self, *, quiet: bool = False) -> None:
        """Rescan every folder incrementally, then analyse what is new."""
        if self._scan is None or (quiet and self.is_busy()):
            if quiet and self.is_busy():
                self._debounce.start()  # try again once the running job ends
            return
        self._queue_scan("Checking for changes" if quiet else "Scanning", None)
        self._queue_analysis()

    def analyse(self) -> None:
        """Analyse tracks that have no features yet."""
        self._queue_analysis()

    def learn_taste(self) -> None:
        """Train the taste model on the history, or learn the plays since last time."""
        if self._learn_taste is None or any(s.label == LEARN_LABEL for s in self._steps):
            return
        learn = self._job("learn_taste", self._learn_taste)
        self._queue(Step(LEARN_LABEL, lambda progress, cancel: _quietly(
            lambda: learn(self._db_path, progress=progress, cancel=cancel)),
            self._after_learning))

    def refresh_mixes(self) -> None:
        """Recompute the automatic mixes from the library and history, in the background."""
        if self._make_mixes is None or any(s.label == MIXES_LABEL for s in self._steps):
            return
        make = self._job("make_mixes", self._make_mixes)
        self._queue(Step(MIXES_LABEL, lambda progress, cancel: make(
            self._db_path, progress=progress, cancel=cancel),
                         lambda _count: self.mixes_changed.emit()))

    def _after_learning(self, result: object) -> None:
        if result is not None:  # None: too little history to train yet
            self.taste_learned.emit(result)

    def make_demo(self, dest: Path) -> None:
        """Generate the demo library into dest, then add it like a music folder."""
        if self._demo is None:
            return
        demo = self._demo
        self._queue(Step("Making the demo library",
                         lambda progress, cancel: demo(dest, progress=progress, cancel=cancel),
                         lambda _result: self.add_folders([str(dest)])))

    def remove_folder(self, root_id: int, path: str) -> None:
        """Take a folder out of the library in the background and stop watching it.

        It goes before every queued job. A scan running now is stopped first (it would
        go on writing tracks under the folder) and the library is checked again after.
        """
        if root_id in self._removing:
            return  # asked twice before the first one ran
        self._removing.add(root_id)
        db = self._db_path

        def job(progress: Callable[[int, int], None], cancel: object) -> object:
            conn = connect(db)
            try:
                removed = remove_root(conn, root_id)
                return removed, [r.path for r in list_roots(conn)]
            finally:
                conn.close()

        interrupted = self._thread is not None and self._label in SCAN_LABELS
        self._steps.insert(0, Step(REMOVE_LABEL, job, lambda result: self._after_remove(
            root_id, path, result, rescan=interrupted)))
        if self._thread is None:
            self._next()
        elif interrupted:
            self._thread.cancel.set()

    def _after_remove(self, root_id: int, path: str, result: object, *, rescan: bool) -> None:
        self._removing.discard(root_id)
        removed, remaining = result  # type: ignore[misc]
        self._unwatch(path, remaining)
        self.message.emit(f"Removed {path} from the library: {removed:,} tracks "
                          "(your listening history is kept)")
        self.folder_removed.emit(root_id, removed)
        if rescan:
            self.rescan(quiet=True)  # the stopped scan's other folders

    def cancel(self) -> None:
        """Stop the running job and drop the queued ones; finished work is kept."""
        self._steps.clear()
        if self._thread is not None:
            self._thread.cancel.set()
            self._status.label.setText(f"{self._label}: cancelling…")

    def shutdown(self) -> None:
        """Cancel everything and wait for the worker (app exit)."""
        self._closed = True
        self._periodic.stop()
        self._debounce.stop()
        self._steps.clear()
        if self._thread is not None:
            self._thread.stop(30_000)

    def start_watching(self) -> None:
        """Catch up with changes made while Timbre was closed, then watch the folders."""
        self._periodic.start()
        if self._roots():
            self.rescan(quiet=True)

    # -- the job queue -------------------------------------------------------------------

    def _queue_scan(self, label: str, folders: list[str] | None) -> None:
        assert self._scan is not None
        scan = self._job("scan", self._scan, with_progress=True)

        def job(progress: Callable[[int, int], None], cancel: object) -> object:
            report = scan(folders, self._db_path, progress=progress, cancel=cancel)
            # Watch the folders as they are after the scan (one removed while this job
            # waited is not watched again); listing them walks the tree, so it is done
            # here, not on the GUI thread.
            conn = connect(self._db_path)
            try:
                roots = [r.path for r in list_roots(conn)]
            finally:
                conn.close()
            return report, _folders_to_watch(roots)

        self._queue(Step(label, job, self._after_scan))

    def _queue_analysis(self) -> None:
        if self._analyze is None:
            return
        analyze = self._job("analyze", self._analyze, with_progress=True)
        if any(s.label == "Analysing" for s in self._steps):
            return
        self._queue(Step("Analysing", lambda progress, cancel: analyze(
            self._db_path, progress=progress, cancel=cancel),
            lambda _r: self.analysis_finished.emit()))

    def _job(self, name: str, fn: Callable[..., object],
             with_progress: bool = False) -> Callable[..., object]:
        """Return the job to call as job(*args, progress=, cancel=): fn itself, or the
        same job in a child process when one is configured for it."""
        target = self._in_child.get(name)
        if target is not None:
            return functools.partial(run_in_child, target)
        if with_progress:
            return fn
        return lambda *args, progress, cancel: fn(*args)  # a job without progress or cancel

    def _queue(self, step: Step) -> None:
        if self._closed:
            return
        self._steps.append(step)
        if self._thread is None:
            self._next()

    def _next(self) -> None:
        if self._closed:
            return
        if not self._steps:
            self._status.hide()
            self._refresh.stop()
            self.library_changed.emit()
            self.busy_changed.emit(False)
            self.finished_all.emit()
            return
        step = self._steps.pop(0)
        self._label = step.label
        thread = JobThread(step.job, self)
        thread.progress.connect(self._on_thread_progress)
        thread.succeeded.connect(lambda result, s=step: self._on_thread_succeeded(s, result))
        thread.failed.connect(self._on_thread_failed)
        thread.finished.connect(self._on_thread_finished)
        self._thread = thread
        self._status.show_progress(step.label, 0, 0)
        self._refresh.start()
        self.busy_changed.emit(True)
        thread.start()

    def _on_thread_progress(self, done: int, total: int) -> None:
        self._status.show_progress(self._label, done, total)

    def _on_thread_succeeded(self, step: Step, result: object) -> None:
        if step.then is not None and not (self._thread and self._thread.cancel.is_set()):
            step.then(result)

    def _on_thread_failed(self, text: str) -> None:
        if self._label == REMOVE_LABEL:
            self._removing.clear()  # the user may try again
        if self._thread is not None and self._thread.cancel.is_set():
            return  # stopped after a cancel: nothing went wrong
        self.message.emit(f"{self._label} failed: {text}")

    def _on_thread_finished(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.deleteLater()
        self.library_changed.emit()
        self._next()

    def _after_scan(self, result: object) -> None:
        report, dirs = result  # type: ignore[misc]
        summary = getattr(report, "summary", None)
        if callable(summary):
            s = summary()
            parts = [f"{s[k]} {k}" for k in ("added", "updated", "moved", "removed", "failed")
                     if s.get(k)]
            if parts or self._label == "Scanning":
                self.message.emit("Scan finished: " + (", ".join(parts) or "no changes"))
        self._watch(dirs)

    # -- watching ------------------------------------------------------------------------

    def _watch(self, dirs: Sequence[str]) -> None:
        """Watch exactly these folders."""
        old = set(self.watcher.directories())
        wanted = set(dirs)
        gone = [d for d in old if d not in wanted]
        if gone:
            self.watcher.removePaths(gone)
        new = [d for d in dirs if d not in old]
        if new:
            self.watcher.addPaths(new)

    def _unwatch(self, root: str, remaining: Sequence[str]) -> None:
        """Stop watching a removed folder's tree, except where another folder holds it."""
        def under(d: str, top: str) -> bool:
            return d == top or d.startswith(top.rstrip("/") + "/")

        gone = [d for d in self.watcher.directories()
                if under(d, root) and not any(under(d, r) for r in remaining)]
        if gone:
            self.watcher.removePaths(gone)

    def _on_watcher_directory_changed(self, _path: str) -> None:
        self._debounce.start()


def _quietly(learn: Callable[[], object]) -> object:
    """Run the taste training; too little history yet is not an error worth showing."""
    try:
        return learn()
    except ValueError:  # not enough plays yet: For you goes on without the model
        return None
    except ChildJobError as exc:  # the same, from a child process
        if exc.kind == "ValueError":
            return None
        raise


def _folders_to_watch(roots: Sequence[str]) -> list[str]:
    """Return the roots and their folders, up to MAX_WATCHED_DIRS (runs in a job)."""
    dirs: list[str] = []
    for root in roots:
        for current, subdirs, _files in os.walk(root):
            dirs.append(current)
            subdirs[:] = [d for d in subdirs if not d.startswith(".")]
            if len(dirs) >= MAX_WATCHED_DIRS:
                return dirs
    return dirs

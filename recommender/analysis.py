"""The analysis job: features for every track that lacks them, in parallel, resumable.

The job runs in the caller's process (a CLI command, or a JobThread in the window) and
farms tracks out to worker processes it starts itself, one track at a time over pipes:
- Workers are plain subprocesses, not a multiprocessing pool, so that each one starts
  with one BLAS/OpenMP/numba thread (set in its environment before numpy loads: more
  threads oversubscribe the cores, measured 7-9 vs 11-13 tracks/s on 2 cores), and so
  that a worker stuck in a decoder can be killed, with its ffmpeg, and replaced.
- Each track has a time limit; a worker that exceeds it is killed and the track is
  recorded as failed with the reason. A worker that dies (a crashing decoder) likewise.
- Results are written in batches, each in one transaction; a track is done once its
  row is written, so a job killed at any point (even SIGKILL) resumes where it stopped.
- Workers compile numba's JIT code on start-up, before taking a track, and keep the
  compiled code in the cache dir (NUMBA_CACHE_DIR), so only the very first run pays.
"""

from __future__ import annotations

import io
import os
import pickle
import selectors
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from player.db import connect
from player.features_store import (
    FeatureRow,
    PendingTrack,
    count_analyzed,
    count_failed,
    pending_tracks,
    write_batch,
)
from player.models import TrackId
from player.paths import cache_dir
from recommender.features import FEATURES_VERSION

ProgressFn = Callable[[int, int], None]

TRACK_TIMEOUT_S = 60.0
"""A track taking longer than this is killed and recorded as failed (normal: ~0.2 s)."""

STARTUP_TIMEOUT_S = 300.0
"""How long a worker may take to start: importing librosa and numba's first compile."""

NICENESS = 10
"""Workers run at a lower CPU priority, so playback and the window stay smooth."""

BATCH_SIZE = 64
FLUSH_INTERVAL_S = 2.0
"""Results are written when this many are waiting, or this long after the last write."""

_MAX_START_FAILURES = 3
_HEADER = struct.Struct(">I")  # frame length, before each pickled message on the pipes
_ROOT = Path(__file__).resolve().parents[1]  # the directory that holds recommender/

# Threads per worker: the workers are the parallelism.
_ONE_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


class AnalysisError(Exception):
    """The job cannot run at all (the workers cannot start); the message says why."""


@dataclass
class AnalysisReport:
    """What one run of the job did."""

    total: int = 0  # tracks that needed analysing when the run started
    analyzed: int = 0
    skipped: int = 0  # already analysed, or already failed, at this version
    failed: list[tuple[TrackId, str]] = field(default_factory=list)
    seconds: float = 0.0
    cancelled: bool = False


def default_workers() -> int:
    """Return the default number of worker processes: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def analyze(db_path: Path, *, workers: int | None = None, progress: ProgressFn | None = None,
            cancel: threading.Event | None = None, timeout_s: float = TRACK_TIMEOUT_S,
            batch_size: int = BATCH_SIZE, niceness: int = NICENESS) -> AnalysisReport:
    """Analyse every track without features (or a recorded error) at FEATURES_VERSION.

    Args:
        workers: worker processes (default: all cores).
        progress: called as progress(done, total) from this thread.
        cancel: set it to stop soon; what is finished is kept.
        timeout_s: the time limit per track.
        niceness: added to the workers' nice value (0: same priority as the caller).
    Raises:
        AnalysisError: no worker process could start.
    """
    start = time.monotonic()
    cancel = cancel or threading.Event()
    conn = connect(Path(db_path))
    try:
        pending = pending_tracks(conn, FEATURES_VERSION)
        report = AnalysisReport(
            total=len(pending),
            skipped=count_analyzed(conn, FEATURES_VERSION) + count_failed(conn, FEATURES_VERSION),
        )
        if progress:
            progress(0, len(pending))
        if pending and not cancel.is_set():
            pool = _Pool(min(workers or default_workers(), len(pending)), timeout_s, niceness)
            try:
                _run(conn, pool, pending, report, progress, cancel, batch_size)
            finally:
                pool.close()
    finally:
        conn.close()
    report.seconds = time.monotonic() - start
    return report


def _run(conn: sqlite3.Connection, pool: _Pool, pending: list[PendingTrack], report: AnalysisReport,
         progress: ProgressFn | None, cancel: threading.Event, batch_size: int) -> None:
    """Feed the pool and store what comes back, in batches, until done or cancelled."""
    queue = deque(pending)
    rows: list[FeatureRow] = []
    errors: list[tuple[TrackId, str]] = []
    last_flush = time.monotonic()

    def flush() -> None:
        nonlocal last_flush
        if rows or errors:
            write_batch(conn, FEATURES_VERSION, rows, errors)
            rows.clear()
            errors.clear()
        last_flush = time.monotonic()

    try:
        while queue or pool.busy():
            if cancel.is_set():
                report.cancelled = True
                break
            pool.assign(queue)
            for outcome in pool.poll(0.2):
                if outcome.row is not None:
                    rows.append(outcome.row)
                    report.analyzed += 1
                else:
                    report.failed.append((outcome.track_id, outcome.reason))
                    if outcome.persistent:
                        errors.append((outcome.track_id, outcome.reason))
                if progress:
                    progress(report.analyzed + len(report.failed), report.total)
            if len(rows) + len(errors) >= batch_size or (
                    time.monotonic() - last_flush >= FLUSH_INTERVAL_S):
                flush()
    finally:
        flush()  # even on cancel, an exception or Ctrl-C: finished work is kept


@dataclass(frozen=True, slots=True)
class _Outcome:
    """One track's result as the pool hands it back."""

    track_id: TrackId
    row: FeatureRow | None = None
    reason: str = ""
    persistent: bool = True  # recorded in the database (a missing file is not)


@dataclass
class _Worker:
    """One worker process and what it is doing."""

    proc: subprocess.Popen[bytes]
    stderr: IO[bytes]
    started_at: float
    buffer: bytearray = field(default_factory=bytearray)
    ready: bool = False
    task: PendingTrack | None = None
    task_started_at: float = 0.0


class _Pool:
    """Worker processes, each analysing one track at a time, killed when they hang."""

    def __init__(self, size: int, timeout_s: float, niceness: int = 0) -> None:
        self._size = max(1, size)
        self._timeout_s = timeout_s
        self._selector = selectors.DefaultSelector()
        self._workers: list[_Worker] = []
        self._start_failures = 0
        self._ever_ready = False
        self._env = _worker_env()
        self._env["TIMBRE_WORKER_NICENESS"] = str(niceness)
        for _ in range(self._size):
            self._spawn()

    def busy(self) -> bool:
        """Return whether some worker is analysing a track."""
        return any(w.task is not None for w in self._workers)

    def assign(self, queue: deque[PendingTrack]) -> None:
        """Give a track to every idle worker that is ready."""
        for worker in self._workers:
            if queue and worker.ready and worker.task is None:
                task = queue.popleft()
                worker.task = task
                worker.task_started_at = time.monotonic()
                try:
                    _send(worker.proc.stdin, (task.track_id, task.path, task.duration_s))
                except OSError:
                    pass  # it died: its end of file arrives in poll(), which reports it

    def poll(self, timeout_s: float) -> list[_Outcome]:
        """Wait up to timeout_s for results; kill and replace hung or dead workers."""
        outcomes: list[_Outcome] = []
        for key, _ in self._selector.select(timeout_s):
            worker: _Worker = key.data
            try:
                data = os.read(key.fd, 1 << 16)
            except OSError:
                data = b""
            if not data:
                outcomes += self._replace(worker, self._death_reason(worker))
                continue
            worker.buffer += data
            for message in _frames(worker.buffer):
                outcome = self._handle(worker, message)
                if outcome is not None:
                    outcomes.append(outcome)
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.task is not None and now - worker.task_started_at > self._timeout_s:
                outcomes += self._replace(
                    worker, f"analysis timed out after {self._timeout_s:g} s "
                            "(the decoder hung on this file)")
            elif not worker.ready and now - worker.started_at > STARTUP_TIMEOUT_S:
                outcomes += self._replace(worker, "the analysis process did not start")
        return outcomes

    def close(self) -> None:
        """Stop every worker: idle ones are told to exit, the rest are killed."""
        for worker in self._workers:
            if worker.task is None and worker.ready:
                try:
                    _send(worker.proc.stdin, None)
                except OSError:
                    pass
            else:  # busy or still starting: a cancel must not wait for it
                _kill(worker)
        deadline = time.monotonic() + 2.0
        for worker in self._workers:
            try:
                worker.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _kill(worker)
            self._discard(worker)
        self._workers.clear()
        self._selector.close()

    def _handle(self, worker: _Worker, message: tuple[Any, ...]) -> _Outcome | None:
        """Turn one message from a worker into an outcome (None for 'ready')."""
        if message[0] == "ready":
            if message[1] != FEATURES_VERSION:
                raise AnalysisError(f"a worker extracts features version {message[1]}, "
                                    f"expected {FEATURES_VERSION}")
            worker.ready = True
            self._ever_ready = True
            return None
        task = worker.task
        worker.task = None
        if task is None or message[1] != task.track_id:  # cannot happen: one task at a time
            raise AnalysisError(f"a worker answered for an unexpected track: {message[:2]}")
        if message[0] == "ok":
            _, track_id, vector, descriptors = message
            return _Outcome(track_id, row=FeatureRow(track_id, vector, descriptors))
        _, track_id, reason, persistent = message
        return _Outcome(track_id, reason=reason, persistent=persistent)

    def _replace(self, worker: _Worker, reason: str) -> list[_Outcome]:
        """Kill a worker, start another; fail its track with reason."""
        task = worker.task
        if not worker.ready:
            self._start_failures += 1
            if not self._ever_ready and self._start_failures >= _MAX_START_FAILURES:
                detail = _tail(worker.stderr)
                _kill(worker)
                self._discard(worker)
                raise AnalysisError(f"the analysis processes cannot start: {reason}"
                                    + (f"\n{detail}" if detail else ""))
        _kill(worker)
        self._discard(worker)
        self._workers.remove(worker)
        self._spawn()
        return [] if task is None else [_Outcome(task.track_id, reason=reason)]

    def _spawn(self) -> None:
        """Start one worker process."""
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in _discard; read if start fails)
        proc = subprocess.Popen(
            [sys.executable, "-c", "from recommender.analysis import worker_main; worker_main()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=self._env,
            cwd=_ROOT, close_fds=True,
            start_new_session=True,  # its own process group: killed with its ffmpeg
        )
        worker = _Worker(proc, stderr, started_at=time.monotonic())
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        self._selector.register(proc.stdout, selectors.EVENT_READ, worker)
        self._workers.append(worker)

    def _discard(self, worker: _Worker) -> None:
        """Forget a stopped worker's pipes."""
        try:
            self._selector.unregister(worker.proc.stdout)  # type: ignore[arg-type]
        except (KeyError, ValueError):
            pass
        for stream in (worker.proc.stdin, worker.proc.stdout, worker.stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    @staticmethod
    def _death_reason(worker: _Worker) -> str:
        """Describe why a worker's pipe closed."""
        try:
            code = worker.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "the analysis process stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"the analysis process crashed on this file ({name})"
        return f"the analysis process exited with status {code}"


def _worker_env() -> dict[str, str]:
    """Return the environment of a worker: one thread per library, the numba cache."""
    env = dict(os.environ)
    for name in _ONE_THREAD:
        env[name] = "1"
    env.setdefault("NUMBA_CACHE_DIR", str(cache_dir() / "numba"))
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return env


def _kill(worker: _Worker) -> None:
    """Kill a worker and everything it started (its ffmpeg), and reap it."""
    try:
        os.killpg(worker.proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        worker.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _tail(stream: IO[bytes], limit: int = 2000) -> str:
    """Return the end of a worker's captured stderr."""
    try:
        stream.seek(0, io.SEEK_END)
        size = stream.tell()
        stream.seek(max(0, size - limit))
        return stream.read().decode("utf-8", "replace").strip()
    except (OSError, ValueError):
        return ""


def _send(stream: IO[bytes] | None, message: object) -> None:
    """Write one framed message."""
    if stream is None:
        raise OSError("no pipe")
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _frames(buffer: bytearray) -> list[tuple[Any, ...]]:
    """Remove and return the complete messages at the start of buffer."""
    messages = []
    while len(buffer) >= _HEADER.size:
        (size,) = _HEADER.unpack_from(buffer)
        if len(buffer) < _HEADER.size + size:
            break
        messages.append(pickle.loads(bytes(buffer[_HEADER.size:_HEADER.size + size])))
        del buffer[:_HEADER.size + size]
    return messages


def _read_exact(stream: IO[bytes], size: int) -> bytes | None:
    """Read exactly size bytes, or None at end of file."""
    chunks = b""
    while len(chunks) < size:
        chunk = stream.read(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return chunks


def worker_main() -> None:
    """Serve tracks from stdin until told to stop: the body of a worker process."""
    # The protocol owns the real stdout; anything a library prints goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _die_with_parent()
    niceness = int(os.environ.get("TIMBRE_WORKER_NICENESS", "0"))
    if niceness > 0:
        os.nice(niceness)
    import warnings

    warnings.simplefilter("ignore")  # librosa's warnings say nothing per-track here
    from recommender.decode import SR_HZ, DecodeError, decode
    from recommender.features import FEATURES_VERSION as VERSION
    from recommender.features import SilentAudioError, extract, warm_up

    warm_up()  # numba compiles (or loads its cache) before the first track's clock starts
    _send(out, ("ready", VERSION))
    stdin = sys.stdin.buffer
    while True:
        header = _read_exact(stdin, _HEADER.size)
        if header is None:
            return  # the job ended or died
        payload = _read_exact(stdin, _HEADER.unpack(header)[0])
        if payload is None:
            return
        task = pickle.loads(payload)
        if task is None:
            return
        track_id, path, duration_s = task
        try:
            features = extract(decode(path, duration_s).signal, SR_HZ)
        except FileNotFoundError as exc:
            _send(out, ("error", track_id, f"file not found: {exc.filename}", False))
        except (DecodeError, SilentAudioError) as exc:
            _send(out, ("error", track_id, str(exc), not _missing(path)))
        except MemoryError:
            _send(out, ("error", track_id, "out of memory analysing this file", True))
        except Exception as exc:  # noqa: BLE001 (one bad file must not stop the job)
            _send(out, ("error", track_id, f"analysis failed: {type(exc).__name__}: {exc}",
                        True))
        else:
            d = features.descriptors
            descriptors = {name: getattr(d, name) for name in d.__slots__}
            _send(out, ("ok", track_id, features.vector, descriptors))


def _missing(path: bytes | str) -> bool:
    """Return whether the file is gone (an unmounted disk: try again next time)."""
    return not os.path.exists(path)


def _die_with_parent() -> None:
    """Ask Linux to kill this process when the job's process dies, even by SIGKILL."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # the closed stdin still stops it once its track is done
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)

"""Run tag-reading worker processes with a per-file time limit (the scanner's side).

Each worker answers its requests in order, so the oldest unanswered request of a worker
is the file it is reading. A worker silent for longer than the limit is killed, that
file is reported as failed, and its other requests go to a fresh worker.
"""

from __future__ import annotations

import os
import pickle
import selectors
import struct
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from threading import Event
from types import TracebackType
from typing import Any, BinaryIO

_LEN = struct.Struct("<I")


def write_frame(out: BinaryIO, value: Any) -> None:
    """Write one length-prefixed pickle."""
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_LEN.pack(len(data)) + data)


def read_frame(stream: BinaryIO) -> Any | None:
    """Read one length-prefixed pickle; None at end of stream."""
    header = stream.read(_LEN.size)
    if len(header) < _LEN.size:
        return None
    (length,) = _LEN.unpack(header)
    return pickle.loads(stream.read(length))


def split_frames(buf: bytearray) -> list[Any]:
    """Remove and return the complete frames at the start of buf."""
    out = []
    pos = 0
    while len(buf) - pos >= _LEN.size:
        (length,) = _LEN.unpack_from(buf, pos)
        if len(buf) - pos - _LEN.size < length:
            break
        out.append(pickle.loads(bytes(buf[pos + _LEN.size : pos + _LEN.size + length])))
        pos += _LEN.size + length
    del buf[:pos]
    return out


Request = tuple[int, bytes, "bytes | None"]
WINDOW = 128  # requests in flight per worker: bounds what a killed worker must redo
SEND = 32
# Waking for every answer costs a context switch per file (on one core, as much as the
# answer itself); when few answers came, let them pile up in the pipe for a moment.
COALESCE_BELOW = 16
COALESCE_S = 0.01


class ReaderError(RuntimeError):
    """The worker processes cannot run at all (not a problem with one file)."""


class _Worker:
    def __init__(self, covers_dir: Path) -> None:
        package_root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (package_root,
                                                          env.get("PYTHONPATH"))))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "player.scan_worker", str(covers_dir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, bufsize=0,
        )
        self.outstanding: deque[Request] = deque()
        self.buf = bytearray()
        self.last_answer = time.monotonic()
        self.answered = 0

    def send(self, batch: list[Request]) -> None:
        if not self.outstanding:
            self.last_answer = time.monotonic()  # the clock runs from the first request
        self.outstanding.extend(batch)
        assert self.proc.stdin is not None
        write_frame(self.proc.stdin, batch)  # type: ignore[arg-type]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass


class ReaderPool:
    """A few worker processes reading tags; use as a context manager."""

    def __init__(self, covers_dir: Path, workers: int, file_timeout_s: float) -> None:
        self.covers_dir = covers_dir
        self.size = max(1, workers)
        self.file_timeout_s = file_timeout_s
        self.workers: list[_Worker] = []
        self.selector = selectors.DefaultSelector()

    def __enter__(self) -> ReaderPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for worker in self.workers:
            self._close(worker)
        self.selector.close()

    def _start(self) -> _Worker:
        worker = _Worker(self.covers_dir)
        assert worker.proc.stdout is not None
        self.selector.register(worker.proc.stdout, selectors.EVENT_READ, worker)
        self.workers.append(worker)
        return worker

    def _close(self, worker: _Worker) -> None:
        try:
            assert worker.proc.stdout is not None
            self.selector.unregister(worker.proc.stdout)
        except (KeyError, ValueError):
            pass
        worker.kill()
        if worker in self.workers:
            self.workers.remove(worker)

    def run(self, requests: Sequence[Request], cancel: Event) -> Iterator[tuple[int, bool, Any]]:
        """Yield (seq, ok, payload) for every request, in no particular order."""
        pending: deque[Request] = deque(requests)
        remaining = len(requests)
        starts_without_answer = 0
        while len(self.workers) < min(self.size, max(1, remaining)):
            self._start()
        while remaining and not cancel.is_set():
            for worker in list(self.workers):
                room = WINDOW - len(worker.outstanding)
                if pending and room >= SEND:
                    batch = [pending.popleft() for _ in range(min(room, len(pending)))]
                    try:
                        worker.send(batch)
                    except OSError:  # it died; its requests are handled as a crash below
                        pass
            got = 0
            for key, _events in self.selector.select(timeout=0.2):
                worker = key.data
                try:
                    chunk = os.read(key.fd, 1 << 20)
                except OSError:
                    chunk = b""
                if chunk:
                    worker.buf.extend(chunk)
                    for seq, ok, payload in split_frames(worker.buf):
                        worker.outstanding.popleft()
                        worker.answered += 1
                        worker.last_answer = time.monotonic()
                        remaining -= 1
                        got += 1
                        yield seq, ok, payload
                    continue
                # end of stream: the worker died on the file it was reading
                code = worker.proc.poll()
                self._close(worker)
                if worker.answered == 0:
                    starts_without_answer += 1
                    if starts_without_answer >= 3:
                        raise ReaderError(f"the tag reader process exits at once (code {code})")
                else:
                    starts_without_answer = 0
                if worker.outstanding:
                    head = worker.outstanding.popleft()
                    pending.extendleft(reversed(worker.outstanding))
                    remaining -= 1
                    yield head[0], False, f"the tag reader crashed on this file (exit code {code})"
                if remaining:
                    self._start()
            if 0 < got < COALESCE_BELOW:
                time.sleep(COALESCE_S)
            now = time.monotonic()
            for worker in list(self.workers):
                if worker.outstanding and now - worker.last_answer > self.file_timeout_s:
                    self._close(worker)
                    head = worker.outstanding.popleft()
                    pending.extendleft(reversed(worker.outstanding))
                    remaining -= 1
                    yield head[0], False, (
                        f"reading took longer than {self.file_timeout_s:g} s; skipped")
                    if remaining:
                        self._start()

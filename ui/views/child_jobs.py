"""Run a background job in a child process, so its Python work never holds the window's GIL.

A job on a thread of the window's process (the mixes fitting an engine over 100,000
tracks, the taste model training) holds the GIL for long stretches, and the GUI thread, which needs it for every paint, stalls for hundreds of
milliseconds. In a child process the job can take all the time it needs: the thread
that waits for it sleeps in poll() without the GIL.

No Qt here: the child imports this module and the job's, nothing else.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from threading import Event
from typing import Any

NICENESS = 10  # below the window and playback, like the analysis workers
GRACE_S = 1.0  # after a cancel, how long a job may take to stop before it is killed
PROGRESS_EVERY_S = 0.05


class ChildJobError(RuntimeError):
    """The job raised in its child process (kind: the exception's class name) or died."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def run_in_child(target: str, *args: Any, progress: Callable[[int, int], None],
                 cancel: Event, **kwargs: Any) -> object:
    """Call module:function(*args, progress=, cancel=, **kwargs) in a new process.

    progress(done, total) is relayed here; cancel is passed on to the job, which is
    killed if it has not stopped GRACE_S after it (None is returned then). Returns what
    the job returned (it must pickle); raises ChildJobError when it raised or died.
    """
    ctx = multiprocessing.get_context("spawn")  # fork would copy the GUI's threads' locks
    receiver, sender = ctx.Pipe(duplex=False)
    stop = ctx.Event()
    proc = ctx.Process(target=_child_main, args=(target, args, kwargs, sender, stop),
                       name=f"timbre-{target}", daemon=True)
    proc.start()
    sender.close()  # the child holds the only writer: EOF when it dies
    cancelled_at: float | None = None
    try:
        while True:
            if cancel.is_set() and cancelled_at is None:
                stop.set()
                cancelled_at = time.monotonic()
            if cancelled_at is not None and time.monotonic() - cancelled_at > GRACE_S:
                return None  # killed below: a cancelled job's result is not used
            if not receiver.poll(0.1):
                continue
            try:
                message = receiver.recv()
            except EOFError:
                proc.join(1.0)
                raise ChildJobError("Died", f"the job's process ended unexpectedly "
                                            f"(exit code {proc.exitcode})") from None
            if message[0] == "progress":
                progress(message[1], message[2])
            elif message[0] == "done":
                return message[1]
            else:
                raise ChildJobError(message[1], message[2])
    finally:
        proc.join(GRACE_S)
        if proc.is_alive():
            # It ignored the cancel. Safe to kill: its database writes are transactions
            # and the taste model is saved by an atomic rename.
            proc.kill()
            proc.join()
        receiver.close()


def _child_main(target: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                sender: Connection, stop: Any) -> None:
    """Run the job (in the child) and send its progress and outcome to the parent."""
    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if done >= total or now - last >= PROGRESS_EVERY_S:
            last = now
            sender.send(("progress", int(done), int(total)))

    try:
        os.nice(NICENESS)
    except OSError:
        pass  # not allowed here: run at the same priority
    module, _, name = target.partition(":")
    try:
        job = getattr(importlib.import_module(module), name)
        result = job(*args, progress=progress, cancel=stop, **kwargs)
        sender.send(("done", result))
    except BaseException as exc:  # noqa: BLE001 - whatever it is, the parent must hear of it
        sender.send(("error", type(exc).__name__, str(exc) or type(exc).__name__))
    finally:
        sender.close()

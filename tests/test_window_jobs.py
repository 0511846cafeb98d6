"""Background jobs in a child process (ui/views/child_jobs.py): results, progress, errors
and cancelling come back as they would from a thread."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from player.db import connect
from player.library import list_roots
from tests.media import make_track, tone
from ui.views.child_jobs import ChildJobError, run_in_child


def _fails(*, progress: object, cancel: object) -> None:
    """A job that raises (run in the child)."""
    raise ValueError("not enough plays yet")


def _ignores_cancel(*, progress: object, cancel: object) -> str:
    """A job that never looks at cancel (run in the child)."""
    time.sleep(60)
    return "finished"


def test_a_real_scan_in_a_child_reports_progress_and_its_result(tmp_path: Path,
                                                                db_path: Path) -> None:
    for n in range(4):
        make_track(tmp_path / "music" / f"{n}.flac", tone(300 + 50 * n, 0.3), title=f"T{n}")
    seen: list[tuple[int, int]] = []
    report = run_in_child("player.scanner:scan", [str(tmp_path / "music")], db_path,
                          progress=lambda done, total: seen.append((done, total)),
                          cancel=threading.Event())
    assert report.added == 4  # type: ignore[attr-defined]
    assert seen and seen[-1] == (4, 4)
    conn = connect(db_path)
    assert [r.track_count for r in list_roots(conn)] == [4]
    conn.close()


def test_an_error_in_the_child_is_raised_with_its_kind() -> None:
    with pytest.raises(ChildJobError, match="not enough plays yet") as caught:
        run_in_child("tests.test_window_jobs:_fails", progress=lambda d, t: None,
                     cancel=threading.Event())
    assert caught.value.kind == "ValueError"


def test_a_job_that_ignores_cancel_is_killed() -> None:
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    result = run_in_child("tests.test_window_jobs:_ignores_cancel",
                          progress=lambda d, t: None, cancel=cancel)
    assert result is None  # not "finished": killed
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("timbre-")]

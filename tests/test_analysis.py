"""The analysis job end to end: real database, real files, real worker processes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from player.db import connect, transaction
from player.features_store import analysis_errors, descriptors, feature_vectors, pending_tracks
from player.history import record_play
from player.models import Play, TrackId
from player.scanner import scan
from recommender.analysis import analyze
from recommender.features import FEATURE_NAMES, FEATURES_VERSION
from tests.media import chord, clicks, tone, write_audio

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _numba_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep numba's compiled code across tests and runs (the XDG dirs are per test).

    In the virtual environment: the first run compiles for a minute on a busy machine,
    and the user's own cache dir is out of bounds for tests.
    """
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(Path(sys.prefix) / "numba-cache"))


def music(i: int, seconds: float) -> np.ndarray:
    """Return a distinct little piece of music: a chord over clicks, shape (n,)."""
    root = 220.0 * 2 ** (i / 12)
    harmony = chord([root, root * 1.26, root * 1.5], seconds)
    beat = clicks(90 + 7 * i, seconds)
    return (harmony + 0.5 * beat[: len(harmony)]).astype(np.float32)


def add_tracks(db_path: Path, paths: list[Path]) -> list[TrackId]:
    """Insert tracks the way the scanner would have, for files the scanner would refuse."""
    conn = connect(db_path)
    ids = []
    with transaction(conn):
        for path in paths:
            size = path.stat().st_size if path.is_file() else 0
            cur = conn.execute(
                "INSERT INTO tracks (path, path_bytes, size, mtime_ns, title, added_at, "
                "updated_at) VALUES (?, ?, ?, 0, ?, 0, 0)",
                (str(path), os.fsencode(path), size, path.name))
            ids.append(TrackId(int(cur.lastrowid or 0)))
    conn.close()
    return ids


def library(db_path: Path, folder: Path, count: int, seconds: float,
            formats: tuple[str, ...] = ("flac", "mp3", "ogg", "opus", "m4a", "wav")) -> list[TrackId]:
    """Write count tracks into folder and add them by a real scan."""
    for i in range(count):
        write_audio(folder / f"t{i:02d}.{formats[i % len(formats)]}", music(i, seconds))
    report = scan([folder], db_path)
    assert report.failed == 0
    conn = connect(db_path)
    ids = [TrackId(r[0]) for r in conn.execute("SELECT id FROM tracks ORDER BY id")]
    conn.close()
    assert len(ids) == count
    return ids


def test_every_track_is_analysed_once(db_path: Path, tmp_path: Path) -> None:
    ids = library(db_path, tmp_path / "music", 6, 40.0)
    seen: list[tuple[int, int]] = []
    report = analyze(db_path, workers=2, progress=lambda d, t: seen.append((d, t)))
    assert (report.analyzed, report.failed, report.skipped) == (6, [], 0)
    assert seen[0] == (0, 6) and seen[-1] == (6, 6)
    conn = connect(db_path)
    vectors = feature_vectors(conn, FEATURES_VERSION)
    assert sorted(vectors) == sorted(ids)
    assert all(v.shape == (len(FEATURE_NAMES),) and np.all(np.isfinite(v))
               for v in vectors.values())
    d = descriptors(conn, ids[0])
    assert d is not None and d["version"] == FEATURES_VERSION
    assert d["tempo_bpm"] == pytest.approx(90, abs=2)  # music(0): clicks at 90 BPM
    assert d["key"] in ("A", "C#", "E", "F#") and d["mode"] in ("major", "minor")
    assert all(d[c] is not None and 0 <= d[c] <= 1
               for c in ("energy", "brightness", "danceability", "acousticness"))
    again = analyze(db_path, workers=2)
    assert (again.analyzed, again.skipped, again.failed) == (0, 6, [])
    conn.close()


def test_cli_json(db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ui.cli import run

    library(db_path, tmp_path / "music", 3, 10.0, formats=("flac",))
    assert run(["analyze", "--workers", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {k: out[k] for k in ("analyzed", "skipped", "failed")} == {
        "analyzed": 3, "skipped": 0, "failed": 0}
    assert out["seconds"] > 0


def test_bad_audio_and_a_hanging_decode_are_recorded_failures(db_path: Path,
                                                               tmp_path: Path) -> None:
    good = library(db_path, tmp_path / "music", 2, 10.0, formats=("flac", "m4a"))
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    truncated = bad_dir / "truncated.flac"
    write_audio(truncated, music(3, 20.0))
    truncated.write_bytes(truncated.read_bytes()[:3000])
    noise_bytes = bad_dir / "random.flac"
    noise_bytes.write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 50_000,
                                                                    dtype=np.uint8)))
    empty = bad_dir / "empty.ogg"
    empty.touch()
    # A 4 GB WAV (12 hours) of digital silence that takes no disk: a header, sparse data.
    sparse = bad_dir / "sparse.wav"
    sf.write(sparse, np.zeros(44_100, dtype=np.int16), 44_100, subtype="PCM_16")
    size = 4_000_000_000
    with open(sparse, "r+b") as f:
        header = f.read(4096)
        data_at = header.index(b"data")
        f.seek(4)
        f.write(struct.pack("<I", size - 8))
        f.seek(data_at + 4)
        f.write(struct.pack("<I", size - data_at - 8))
        f.truncate(size)
    hanging = bad_dir / "hang.flac"  # a FIFO nobody writes: opening it blocks forever
    os.mkfifo(hanging)
    bad = add_tracks(db_path, [truncated, noise_bytes, empty, sparse, hanging])

    report = analyze(db_path, workers=2, timeout_s=5.0)

    assert report.analyzed == len(good)
    conn = connect(db_path)
    errors = {e.track_id: e.reason for e in analysis_errors(conn, FEATURES_VERSION)}
    assert sorted(errors) == sorted(bad)
    assert all(reason.strip() for reason in errors.values())
    assert "timed out" in errors[bad[4]]
    assert "empty" in errors[bad[2]]
    assert "silent" in errors[bad[3]]
    assert dict(report.failed) == errors
    # Recorded failures are not retried at the same version.
    assert pending_tracks(conn, FEATURES_VERSION) == []
    conn.close()


def test_sigkilled_job_resumes_without_redoing_tracks(db_path: Path, tmp_path: Path) -> None:
    count = 24
    library(db_path, tmp_path / "music", count, 8.0, formats=("wav", "flac"))
    code = ("import sys; from pathlib import Path; from recommender.analysis import analyze; "
            "analyze(Path(sys.argv[1]), workers=1, batch_size=1)")
    job = subprocess.Popen([sys.executable, "-c", code, str(db_path)], cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    conn = connect(db_path)
    try:
        deadline = time.monotonic() + 240
        while _count(conn) < 2 and job.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(job.pid, signal.SIGKILL)
        job.wait()
        before = dict(conn.execute("SELECT track_id, analyzed_at FROM features"))
        assert 2 <= len(before) < count  # killed mid-job

        report = analyze(db_path, workers=2)

        assert report.analyzed == count - len(before)
        assert report.skipped == len(before)
        after = dict(conn.execute("SELECT track_id, analyzed_at FROM features"))
        assert len(after) == count
        assert all(after[tid] == at for tid, at in before.items())  # not redone
    finally:
        if job.poll() is None:
            job.kill()
        conn.close()


def test_version_bump_reanalyses(db_path: Path, tmp_path: Path) -> None:
    ids = library(db_path, tmp_path / "music", 4, 10.0, formats=("ogg", "flac"))
    analyze(db_path, workers=2)
    conn = connect(db_path)
    # Two tracks analysed by an older Timbre, whose vectors had another layout.
    with transaction(conn):
        conn.executemany("UPDATE features SET version = ?, vector = x'00' WHERE track_id = ?",
                         [(FEATURES_VERSION - 1, tid) for tid in ids[:2]])
    assert sorted(p.track_id for p in pending_tracks(conn, FEATURES_VERSION)) == sorted(ids[:2])
    # What the listener plays or likes is redone first, the latest played first.
    with transaction(conn):
        conn.executemany("UPDATE features SET version = ?, vector = x'00' WHERE track_id = ?",
                         [(FEATURES_VERSION - 1, tid) for tid in ids[2:]])
    record_play(conn, Play(track_id=ids[3], started_at=1000.0, heard_ms=9000, fraction=0.9))
    record_play(conn, Play(track_id=ids[1], started_at=2000.0, heard_ms=9000, fraction=0.9))
    conn.execute("INSERT INTO likes (track_id, at) VALUES (?, 1)", (ids[2],))
    assert [p.track_id for p in pending_tracks(conn, FEATURES_VERSION)] == [
        ids[1], ids[3], ids[2], ids[0]]

    report = analyze(db_path, workers=2)

    assert (report.analyzed, report.skipped) == (4, 0)
    vectors = feature_vectors(conn, FEATURES_VERSION)
    assert sorted(vectors) == sorted(ids)
    assert all(v.shape == (len(FEATURE_NAMES),) for v in vectors.values())
    conn.close()


def test_cancel_keeps_finished_work_and_the_next_run_completes(db_path: Path,
                                                                tmp_path: Path) -> None:
    count = 12
    library(db_path, tmp_path / "music", count, 8.0, formats=("wav",))
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done >= 3:
            cancel.set()

    first = analyze(db_path, workers=1, progress=progress, cancel=cancel)
    assert first.cancelled
    assert 3 <= first.analyzed < count
    conn = connect(db_path)
    assert _count(conn) == first.analyzed  # written before returning
    second = analyze(db_path, workers=2)
    assert second.analyzed == count - first.analyzed
    assert _count(conn) == count
    conn.close()


def test_missing_file_is_not_recorded(db_path: Path, tmp_path: Path) -> None:
    path = write_audio(tmp_path / "gone.flac", tone(440, 3))
    add_tracks(db_path, [path])
    path.unlink()  # e.g. an unmounted disk the scanner has not noticed yet
    report = analyze(db_path, workers=1)
    assert len(report.failed) == 1
    conn = connect(db_path)
    assert analysis_errors(conn) == []
    assert len(pending_tracks(conn, FEATURES_VERSION)) == 1  # tried again next time
    conn.close()


def _count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM features").fetchone()[0])

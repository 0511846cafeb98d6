"""The scanner: incremental, moves keep identity, unmounted roots kept, hostile files, kills."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from threading import Event

import pytest
from mutagen.id3 import ID3, TXXX

from player.db import connect
from player.history import iter_plays, record_play
from player.library import scan_errors, search, track_rows
from player.models import Play, TrackId
from player.scan_pool import ReaderPool
from player.scanner import scan
from tests.media import FORMATS, jpeg_bytes, make_track, noise, tag, tone

VENV_PYTHON = Path(sys.executable)


@pytest.fixture
def music(tmp_path: Path) -> Path:
    """A small library: one tagged file per format in two album folders."""
    root = tmp_path / "music"
    for i, fmt in enumerate(FORMATS):
        make_track(root / f"Album {i % 2}" / f"{i:02d} Song.{fmt}", noise(1.0, seed=i),
                   title=f"Song {i}", artist=["Beyoncé", "Other"], album=f"Album {i % 2}",
                   genre=["Rock", "Pop"], mb_recording_id=f"rec-{i}" if i == 0 else None,
                   cover=jpeg_bytes((40 * i, 0, 0)) if i < 2 else None)
    (root / "Album 1" / "cover.jpg").write_bytes(jpeg_bytes((0, 0, 250)))
    return root


def _rows(db_path: Path) -> dict[str, dict[str, object]]:
    conn = connect(db_path)
    try:
        return {str(r["path"]): r for r in track_rows(conn)}
    finally:
        conn.close()


def test_first_scan_then_unchanged_rescan(music: Path, db_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    report = scan([music], db_path, progress=lambda d, t: calls.append((d, t)), cancel=Event())
    assert (report.added, report.failed, report.removed) == (len(FORMATS), 0, 0)
    assert calls[0] == (0, len(FORMATS)) and calls[-1] == (len(FORMATS), len(FORMATS))
    rows = _rows(db_path)
    assert {r["codec"] for r in rows.values()} >= {"mp3", "flac", "vorbis", "opus", "aac", "pcm"}
    assert all(r["artists"] == ["Beyoncé", "Other"] for r in rows.values())
    assert all(r["fingerprint"] and r["duration_s"] for r in rows.values())
    # embedded covers for the first two, the folder's cover.jpg for the rest of Album 1
    with_cover = [r for r in rows.values() if r["cover_hash"]]
    assert len(with_cover) == 2 + sum(1 for i in range(2, len(FORMATS)) if i % 2 == 1)
    conn = connect(db_path)
    sources = dict(conn.execute("SELECT source, count(*) FROM covers GROUP BY source"))
    thumbs = [Path(p) for (p,) in conn.execute("SELECT thumb_path FROM covers")]
    conn.close()
    assert sources == {"embedded": 2, "folder": 1}
    assert all(p.is_file() for p in thumbs)

    first_calls = len(calls)
    again = scan(None, db_path, progress=lambda d, t: calls.append((d, t)), cancel=Event())
    assert again.summary()["unchanged"] == len(FORMATS)
    assert (again.added, again.updated, again.moved, again.removed) == (0, 0, 0, 0)
    assert _rows(db_path) == rows  # not even updated_at moved
    assert len(calls) == first_calls  # nothing to read: no progress to report


def test_changed_and_removed_files(music: Path, db_path: Path) -> None:
    scan([music], db_path)
    before = _rows(db_path)
    changed = music / "Album 0" / "00 Song.wav"
    tag(changed, title="Retitled")
    (music / "Album 1" / "01 Song.flac").unlink()
    report = scan(None, db_path)
    assert (report.updated, report.removed, report.added) == (1, 1, 0)
    after = _rows(db_path)
    assert after[str(changed)]["title"] == "Retitled"
    assert after[str(changed)]["id"] == before[str(changed)]["id"]
    assert len(after) == len(FORMATS) - 1


def test_move_and_rename_keep_identity_and_plays(music: Path, db_path: Path) -> None:
    scan([music], db_path)
    conn = connect(db_path)
    before = _rows(db_path)
    flac = music / "Album 1" / "01 Song.flac"
    mp3 = music / "Album 0" / "04 Song.mp3"
    wav_mbid = music / "Album 0" / "00 Song.wav"
    flac_id = TrackId(int(before[str(flac)]["id"]))  # type: ignore[call-overload]
    record_play(conn, Play(track_id=flac_id, started_at=1000.0, heard_ms=1000))
    conn.execute("INSERT INTO likes (track_id, at) VALUES (?, 1)", (flac_id,))
    # a move to another folder, a rename with new tags, and a move of a re-encoded file
    # that only its MusicBrainz id can recognise
    (music / "Moved").mkdir()
    new_flac = music / "Moved" / "renamed.flac"
    flac.rename(new_flac)
    new_mp3 = music / "Album 0" / "new name.mp3"
    mp3.rename(new_mp3)
    tag(new_mp3, title="Also retagged")
    wav_mbid.unlink()
    reencoded = make_track(music / "Moved" / "reencoded.flac", tone(500, 1.0), title="Song 0",
                           mb_recording_id="rec-0")
    report = scan(None, db_path)
    assert (report.moved, report.added, report.removed) == (3, 0, 0)
    after = _rows(db_path)
    assert after[str(new_flac)]["id"] == flac_id
    assert after[str(new_mp3)]["id"] == before[str(mp3)]["id"]
    assert after[str(new_mp3)]["title"] == "Also retagged"
    assert after[str(reencoded)]["id"] == before[str(wav_mbid)]["id"]
    assert after[str(reencoded)]["codec"] == "flac"
    plays = list(iter_plays(conn))
    assert [p.track_id for p in plays] == [flac_id]
    assert conn.execute("SELECT track_id FROM likes").fetchall() == [(flac_id,)]
    assert conn.execute("SELECT play_count FROM track_stats WHERE track_id = ?",
                        (flac_id,)).fetchone() == (1,)
    conn.close()


def test_missing_or_unmounted_root_keeps_its_tracks(music: Path, db_path: Path,
                                                   tmp_path: Path) -> None:
    scan([music], db_path)
    before = _rows(db_path)
    away = tmp_path / "unplugged"
    music.rename(away)
    report = scan(None, db_path)
    assert report.missing_roots == [str(music)]
    assert report.removed == 0
    after = _rows(db_path)
    assert after.keys() == before.keys()
    assert all(r["missing"] == 1 for r in after.values())
    music.mkdir()  # an empty mount point: still unmounted
    assert scan(None, db_path).missing_roots == [str(music)]
    assert len(_rows(db_path)) == len(before)
    music.rmdir()
    away.rename(music)  # plugged back in
    report = scan(None, db_path)
    assert (report.missing_roots, report.unchanged, report.removed) == ([], len(before), 0)
    assert all(r["missing"] == 0 for r in _rows(db_path).values())


def test_search_is_accent_case_and_prefix_insensitive(music: Path, db_path: Path) -> None:
    scan([music], db_path)
    conn = connect(db_path)
    everything = search(conn, "beyonce")
    assert len(everything) == len(FORMATS)
    assert search(conn, "BEYON song 3") == search(conn, "song 3")
    assert len(search(conn, "song 3")) == 1
    assert search(conn, "pop alb") == search(conn, "Beyoncé")
    for hostile in ('"', 'AND', 'song" OR "x', "NEAR(", "*", "-song", "title:song", "()", ""):
        search(conn, hostile)  # never an FTS syntax error
    assert search(conn, 'song"') == search(conn, "song")
    conn.close()


def _hostile_library(root: Path) -> dict[str, Path]:
    """Write every kind of bad input the scanner must survive, plus good files."""
    root.mkdir(parents=True)
    good = make_track(root / "good.flac", tone(300, 0.5), title="Good")
    files = {"good": good}
    (root / "zero.mp3").write_bytes(b"")
    files["zero"] = root / "zero.mp3"
    data = make_track(root / "full.flac", noise(2.0), title="Full").read_bytes()
    (root / "full.flac").unlink()
    (root / "truncated.flac").write_bytes(data[:200])
    files["truncated"] = root / "truncated.flac"
    (root / "random.ogg").write_bytes(os.urandom(50_000))
    files["random"] = root / "random.ogg"
    (root / "text.flac").write_text("just some text\n" * 100)
    files["text"] = root / "text.flac"
    big = make_track(root / "big-cover.mp3", tone(300, 0.5), title="Big cover",
                     cover=os.urandom(20 * 1024 * 1024))
    files["big_cover"] = big
    frames = make_track(root / "frames.mp3", tone(300, 0.5), title="Many frames")
    id3 = ID3(frames)
    for i in range(30_000):
        id3.add(TXXX(encoding=3, desc=f"junk{i}", text=[str(i)]))
    id3.save()
    files["frames"] = frames
    (root / "loop").mkdir()
    os.symlink("..", root / "loop" / "back-up")
    os.symlink(root / "nowhere.mp3", root / "broken-link.mp3")
    deep = root
    for _ in range(120):
        deep = deep / "d"
    files["deep"] = make_track(deep / "deep.ogg", tone(400, 0.5), title="Deep")
    raw_name = os.fsencode(root) + b"/caf\xe9 \xff.mp3"  # Latin-1 bytes: not UTF-8
    with open(raw_name, "wb") as f:
        f.write(make_track(root / "tmp.mp3", tone(350, 0.5), title="Latin-1 name").read_bytes())
    (root / "tmp.mp3").unlink()
    sparse = root / "sparse.flac"
    with open(sparse, "wb") as f:
        f.truncate(3 * 1024**3)
    files["sparse"] = sparse
    os.mkfifo(root / "fifo.mp3")  # opening it would block forever: never read
    return files


def test_hostile_files_never_stop_the_scan(tmp_path: Path, db_path: Path) -> None:
    root = tmp_path / "hostile"
    files = _hostile_library(root)
    report = scan([root], db_path, file_timeout_s=60.0)
    assert not report.cancelled
    rows = _rows(db_path)
    titles = {r["title"] for r in rows.values()}
    assert {"Good", "Big cover", "Many frames", "Deep", "Latin-1 name"} <= titles
    assert rows[str(files["big_cover"])]["cover_hash"] is None  # 20 MB image ignored
    conn = connect(db_path)
    latin = conn.execute("SELECT path, path_bytes FROM tracks WHERE title = 'Latin-1 name'"
                         ).fetchone()
    assert bytes(latin[1]) == os.fsencode(root) + b"/caf\xe9 \xff.mp3"
    assert latin[0] == f"{root}/caf\\xe9 \\xff.mp3"
    errors = {e["path"]: e["reason"] for e in scan_errors(conn)}
    conn.close()
    for key in ("zero", "truncated", "random", "text", "sparse"):
        assert errors[str(files[key])], key
    assert str(root / "broken-link.mp3") in errors
    assert str(root / "fifo.mp3") not in errors and str(root / "fifo.mp3") not in rows
    assert report.failed == len(errors)
    assert report.added == len(rows)
    # a rescan reads none of them again
    again = scan(None, db_path)
    assert (again.unchanged, again.added, again.failed) == (len(rows), 0, report.failed)


def test_a_file_that_blocks_the_reader_is_timed_out(tmp_path: Path) -> None:
    fifo = tmp_path / "blocks.mp3"
    os.mkfifo(fifo)  # open() on it blocks: a stand-in for a file that hangs mutagen
    good = make_track(tmp_path / "good.flac", tone(300, 0.5), title="Good")
    requests = [(0, os.fsencode(fifo), None), (1, os.fsencode(good), None)]
    with ReaderPool(tmp_path / "covers", 1, file_timeout_s=1.0) as pool:
        answers = {seq: (ok, payload) for seq, ok, payload in pool.run(requests, Event())}
    assert answers[0][0] is False and "longer than 1 s" in answers[0][1]
    assert answers[1][0] is True and answers[1][1][0][0] == "Good"


def _drop_file_permission_override() -> None:
    """Drop CAP_DAC_OVERRIDE/READ_SEARCH from the bounding set: the exec'd root obeys modes."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop = 24
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "music"
    make_track(root / "ok.flac", tone(300, 0.5), title="OK")
    locked = make_track(root / "locked.flac", tone(300, 0.5), title="Locked")
    locked.chmod(0)
    db = tmp_path / "lib.db"
    # Tests run as root, which reads any file: run the scan in a process whose root has
    # lost the capabilities that override file modes, so chmod 000 really locks it.
    code = (f"from player.scanner import scan; from pathlib import Path; "
            f"scan([{str(root)!r}], Path({str(db)!r}))")
    subprocess.run([str(VENV_PYTHON), "-c", code], check=True, timeout=120,
                   preexec_fn=_drop_file_permission_override if os.geteuid() == 0 else None)
    conn = connect(db)
    titles = [r["title"] for r in track_rows(conn)]
    errors = scan_errors(conn)
    conn.close()
    assert titles == ["OK"]
    assert [e["path"] for e in errors] == [str(locked)]
    assert "ermission denied" in errors[0]["reason"]


def test_cancel_keeps_what_was_done_and_removes_nothing(music: Path, db_path: Path) -> None:
    scan([music], db_path)
    (music / "Album 0" / "00 Song.wav").unlink()
    cancel = Event()
    cancel.set()
    report = scan(None, db_path, cancel=cancel)
    assert report.cancelled and report.removed == 0
    assert len(_rows(db_path)) == len(FORMATS)


def test_sigkill_mid_scan_leaves_a_consistent_db_and_the_next_scan_continues(
        tmp_path: Path, db_path: Path) -> None:
    root = tmp_path / "many"
    templates = [make_track(tmp_path / f"t.{fmt}", tone(300 + i, 0.3), title=f"T{i}")
                 for i, fmt in enumerate(("mp3", "flac", "ogg"))]
    n = 3000
    for i in range(n):
        folder = root / f"album{i // 20:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(templates[i % 3], folder / f"{i:05d}{templates[i % 3].suffix}")
    code = ("import sys; from pathlib import Path; from player import scanner; "
            "scanner.BATCH_FILES = 200; "
            f"scanner.scan([{str(root)!r}], Path({str(db_path)!r}))")
    proc = subprocess.Popen([str(VENV_PYTHON), "-c", code])
    try:
        deadline = time.monotonic() + 120
        count = 0
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            try:
                raw = sqlite3.connect(db_path, timeout=5)
                count = raw.execute("SELECT count(*) FROM tracks").fetchone()[0]
                raw.close()
            except sqlite3.OperationalError:
                continue  # not created yet
            if count > 0:
                break
        assert proc.poll() is None, "the scan ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    committed = raw.execute("SELECT count(*) FROM tracks").fetchone()[0]
    raw.close()
    assert 0 < committed < n
    report = scan(None, db_path)
    assert report.unchanged == committed
    assert report.added == n - committed
    assert len(_rows(db_path)) == n
    # the search index took every batch, whichever way it was written
    conn = connect(db_path)
    conn.execute("INSERT INTO tracks_fts(tracks_fts) VALUES ('integrity-check')")
    assert len(search(conn, "t1", limit=n)) == n // 3
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                        "AND name = 'tracks_fts_insert'").fetchone() == (1,)
    conn.close()

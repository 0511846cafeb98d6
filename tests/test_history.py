"""The listening history: heard time, end reasons, recovery after a kill, lossless export."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from player.db import connect
from player.history import (
    end_reason_for_user_action,
    export_listens,
    fraction_heard,
    iter_history,
    iter_plays,
    listen_to_play,
    record_plays,
)
from player.models import Play, TrackId
from player.playback import PlaybackEngine
from tests.library_rows import add_track
from tests.media import make_track, tone

ROOT = Path(__file__).resolve().parent.parent
# Qt Multimedia's FFmpeg threads log ("No audio device detected") while the main thread
# waits on them inside a player call that holds the GIL; pytest-qt's Python log handler
# would then wait for the GIL: a deadlock. These tests do not capture Qt logs.
pytestmark = pytest.mark.no_qt_log
WAIT_MS = 15_000


@pytest.fixture
def conn(db_path: Path) -> Iterator[sqlite3.Connection]:
    c = connect(db_path)
    yield c
    c.close()


def _track(conn: sqlite3.Connection, path: Path, seconds: float) -> TrackId:
    make_track(path, tone(440, seconds))
    return add_track(conn, path, title=path.stem, artist="T", duration_s=seconds)


def test_user_end_reasons() -> None:
    assert end_reason_for_user_action(100_000, 300.0) == "skipped"
    assert end_reason_for_user_action(200_000, 300.0) == "stopped"  # past half
    assert end_reason_for_user_action(250_000, 600.0) == "stopped"  # past 4 minutes
    assert end_reason_for_user_action(1_000, None) == "skipped"
    assert fraction_heard(5_000, 10.0) == 0.5
    assert fraction_heard(50_000, 10.0) == 1.0
    assert fraction_heard(5_000, None) == 0.0


def test_skip_stop_and_close_are_recorded(qtbot, conn: sqlite3.Connection,  # type: ignore[no-untyped-def]
                                          tmp_path: Path) -> None:
    ids = [_track(conn, tmp_path / f"t{n}.wav", 20.0) for n in range(3)]
    engine = PlaybackEngine(conn)
    engine.play_tracks(ids, source="foryou")
    qtbot.waitUntil(lambda: engine.position_ms > 200, timeout=WAIT_MS)
    engine.next()  # early: a skip
    qtbot.waitUntil(lambda: engine.position_ms > 200, timeout=WAIT_MS)
    engine.stop()
    engine.play()
    qtbot.waitUntil(lambda: engine.position_ms > 200, timeout=WAIT_MS)
    engine.close()
    plays = list(iter_plays(conn))
    assert [(p.track_id, p.end_reason) for p in plays] == [
        (ids[0], "skipped"), (ids[1], "stopped"), (ids[1], "closed")]
    assert all(p.source == "foryou" and 0 < p.heard_ms < 20_000 for p in plays)
    stats = conn.execute("SELECT play_count, skip_count FROM track_stats WHERE track_id = ?",
                         (ids[0],)).fetchone()
    assert stats == (0, 1)


def test_heard_time_is_wall_clock_not_position(qtbot, conn: sqlite3.Connection,  # type: ignore[no-untyped-def]
                                               tmp_path: Path) -> None:
    # An MP3 cut to 15%: its header still says 10 s, and at the cut the decoder's position
    # jumps from about 1.4 s to 10 s. Only the 1.4 s were heard.
    whole = tmp_path / "whole.mp3"
    make_track(whole, tone(440, 10.0))
    path = tmp_path / "truncated.mp3"
    data = whole.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.15)])
    tid = add_track(conn, path, title="cut", duration_s=10.0)
    engine = PlaybackEngine(conn)
    with qtbot.waitSignal(engine.play_recorded, timeout=WAIT_MS) as rec:
        engine.play_tracks([tid])
    play = rec.args[0]
    assert play.end_reason == "finished"
    assert 300 <= play.heard_ms <= 5_000  # what exists, not the promised 10 s
    assert play.fraction < 0.5
    engine.close()


def test_pause_is_not_heard(qtbot, conn: sqlite3.Connection, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tid = _track(conn, tmp_path / "p.flac", 2.0)
    engine = PlaybackEngine(conn)
    engine.play_tracks([tid])
    qtbot.waitUntil(lambda: engine.position_ms > 300, timeout=WAIT_MS)
    engine.pause()
    qtbot.wait(1500)
    with qtbot.waitSignal(engine.play_recorded, timeout=WAIT_MS) as rec:
        engine.play()
    play = rec.args[0]
    wall_ms = ((play.ended_at or 0) - play.started_at) * 1000
    assert play.end_reason == "finished"
    assert play.heard_ms <= wall_ms - 1000  # the paused 1.5 s are not in it
    engine.close()


def test_sigkill_mid_track_is_recovered_at_restart(qtbot, db_path: Path,  # type: ignore[no-untyped-def]
                                                   tmp_path: Path) -> None:
    conn = connect(db_path)
    tid = _track(conn, tmp_path / "long.ogg", 60.0)
    conn.close()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ui.app", "--db", str(db_path), "play", str(tid), "--no-mpris"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        watcher = connect(db_path)

        def checkpointed() -> bool:
            row = watcher.execute("SELECT heard_ms FROM current_play").fetchone()
            return bool(row and row[0] > 0)

        qtbot.waitUntil(checkpointed, timeout=60_000)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        watcher.close()
    finally:
        if proc.poll() is None:
            proc.kill()
    conn = connect(db_path)
    assert list(iter_plays(conn)) == []  # the killed process recorded nothing itself
    engine = PlaybackEngine(conn)
    recovered = engine.restore()
    assert recovered is not None
    plays = list(iter_plays(conn))
    assert [(p.track_id, p.end_reason) for p in plays] == [(tid, "closed")]
    assert 0 < plays[0].heard_ms < 60_000 and plays[0].ended_at is not None
    assert conn.execute("SELECT count(*) FROM current_play").fetchone()[0] == 0
    assert PlaybackEngine(conn).restore() is None  # recovered once only
    engine.close()
    conn.close()


def _sample_plays(conn: sqlite3.Connection, tmp_path: Path) -> list[Play]:
    tid = add_track(conn, tmp_path / "x.flac", title="Ünïcode \"q\"", artist="A; B",
                    album="Alb", duration_s=187.25, mb_recording_id="0f1e-mbid")
    plays = [
        Play(track_id=tid, started_at=1_700_000_000.123456, ended_at=1_700_000_187.5,
             heard_ms=186_001, fraction=0.9934, end_reason="finished", source="playlist",
             source_ref="12"),
        Play(track_id=tid, started_at=1_700_000_300.75, ended_at=1_700_000_310.0,
             heard_ms=9_250, fraction=0.0494, end_reason="skipped", source="radio",
             source_ref="7"),
        Play(track_id=None, started_at=1_600_000_000.0, end_reason="finished",
             source="import", artist="Gone", title="Elsewhere", album=None, duration_s=None),
    ]
    record_plays(conn, plays)
    return list(iter_history(conn))


def test_export_round_trips_every_field(conn: sqlite3.Connection, tmp_path: Path) -> None:
    stored = _sample_plays(conn, tmp_path)
    out = io.StringIO()
    assert export_listens(conn, out) == 3
    lines = out.getvalue().splitlines()
    listens = [json.loads(line) for line in lines]
    assert all(isinstance(listen["listened_at"], int) for listen in listens)
    assert listens[1]["track_metadata"]["additional_info"]["recording_mbid"] == "0f1e-mbid"
    assert [listen_to_play(listen) for listen in listens] == stored
    assert stored[1].title == "Ünïcode \"q\"" and stored[1].extra["mb_recording_id"] == "0f1e-mbid"


def test_history_cli_lists_and_exports(conn: sqlite3.Connection, tmp_path: Path,
                                       db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ui.cli import run

    stored = _sample_plays(conn, tmp_path)
    assert run(["history", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [p["started_at"] for p in listed] == [p.started_at for p in stored]
    assert listed[2]["end_reason"] == "skipped" and listed[2]["source_ref"] == "7"
    assert run(["history", "list", "--json", "--limit", "1"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert run(["history"]) == 0
    assert "Elsewhere" in capsys.readouterr().out
    target = tmp_path / "out.jsonl"
    assert run(["history", "export", str(target)]) == 0
    back = [listen_to_play(json.loads(line)) for line in target.read_text().splitlines()]
    assert back == stored
    assert run(["history", "export", str(tmp_path / "no" / "such" / "dir.jsonl")]) == 1
    assert "cannot write" in capsys.readouterr().err


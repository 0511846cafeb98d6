"""Headless playback of generated files: Qt Multimedia plays through its FFmpeg backend.

This machine has no sound card and no sound server: QMediaPlayer then says "No audio
device detected" and runs on a system clock, so positions advance in real time and
EndOfMedia arrives as with a speaker.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from player.db import connect
from player.history import iter_plays
from player.models import TrackId
from player.playback import PlaybackEngine, PlaybackSettings, recent_failures
from player.queue import PlayQueue, load_queue
from tests.library_rows import add_track
from tests.media import FORMATS, make_track, tone

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


def _track(conn: sqlite3.Connection, path: Path, seconds: float, hz: float = 440,
           **cols: object) -> TrackId:
    make_track(path, tone(hz, seconds))
    return add_track(conn, path, title=path.stem, artist="Test", duration_s=seconds, **cols)


@pytest.fixture
def engine(qtbot, conn: sqlite3.Connection) -> Iterator[PlaybackEngine]:  # type: ignore[no-untyped-def]
    eng = PlaybackEngine(conn, PlaybackSettings(watchdog_s=2.0))
    yield eng
    eng.close()


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_plays_and_moves_on(qtbot, engine: PlaybackEngine,  # type: ignore[no-untyped-def]
                                        conn: sqlite3.Connection, tmp_path: Path,
                                        fmt: str) -> None:
    first = _track(conn, tmp_path / f"first.{fmt}", 1.0)
    second = _track(conn, tmp_path / "second.wav", 3.0)
    positions: list[int] = []
    engine.position_changed.connect(positions.append)
    started: list[TrackId] = []
    engine.track_started.connect(lambda t: started.append(t.id))
    engine.play_tracks([first, second])
    qtbot.waitUntil(lambda: started == [first, second], timeout=WAIT_MS)
    assert any(p > 0 for p in positions), "the position never advanced"
    plays = list(iter_plays(conn))
    assert [(p.track_id, p.end_reason) for p in plays] == [(first, "finished")]
    assert plays[0].heard_ms > 0 and plays[0].fraction > 0
    assert engine.state == "playing"


def test_seek_lands(qtbot, engine: PlaybackEngine, conn: sqlite3.Connection,  # type: ignore[no-untyped-def]
                    tmp_path: Path) -> None:
    tid = _track(conn, tmp_path / "long.flac", 8.0)
    engine.play_tracks([tid])
    qtbot.waitUntil(lambda: engine.position_ms > 0, timeout=WAIT_MS)
    with qtbot.waitSignal(engine.seeked) as seeked:
        engine.seek(5000)
    assert seeked.args == [5000]
    qtbot.waitUntil(lambda: engine.position_ms > 5000, timeout=WAIT_MS)
    assert engine.position_ms < 8000
    # previous() past 3 s restarts the same track instead of going back
    engine.previous()
    assert engine.position_ms < 3000
    assert engine.current_track is not None and engine.current_track.id == tid


def test_end_of_queue_stops_and_records(qtbot, engine: PlaybackEngine,  # type: ignore[no-untyped-def]
                                        conn: sqlite3.Connection, tmp_path: Path) -> None:
    tid = _track(conn, tmp_path / "only.ogg", 1.0)
    engine.play_tracks([tid], source="album", source_ref="Some album")
    with qtbot.waitSignal(engine.play_recorded, timeout=WAIT_MS) as rec:
        pass
    play = rec.args[0]
    assert (play.track_id, play.end_reason, play.source, play.source_ref) == (
        tid, "finished", "album", "Some album")
    qtbot.waitUntil(lambda: engine.state == "stopped", timeout=WAIT_MS)


def test_repeat_track_plays_again(qtbot, engine: PlaybackEngine,  # type: ignore[no-untyped-def]
                                  conn: sqlite3.Connection, tmp_path: Path) -> None:
    a = _track(conn, tmp_path / "a.wav", 1.0)
    b = _track(conn, tmp_path / "b.wav", 1.0)
    engine.set_repeat("track")
    engine.play_tracks([a, b])
    qtbot.waitUntil(lambda: len(list(iter_plays(conn))) >= 2, timeout=WAIT_MS)
    assert [p.track_id for p in iter_plays(conn)][:2] == [a, a]


def test_crossfade_overlaps(qtbot, engine: PlaybackEngine, conn: sqlite3.Connection,  # type: ignore[no-untyped-def]
                            tmp_path: Path) -> None:
    a = _track(conn, tmp_path / "a.flac", 3.0, hz=330)
    b = _track(conn, tmp_path / "b.flac", 3.0, hz=550)
    engine.set_crossfade(1.0)
    started_at: dict[TrackId, float] = {}
    engine.track_started.connect(lambda t: started_at.setdefault(t.id, time.time()))
    engine.play_tracks([a, b])
    with qtbot.waitSignal(engine.crossfade_started, timeout=WAIT_MS) as fade:
        pass
    assert [t.id for t in fade.args] == [a, b]
    assert engine.is_crossfading()
    assert engine.current_track is not None and engine.current_track.id == b
    qtbot.waitUntil(lambda: len(list(iter_plays(conn))) == 1, timeout=WAIT_MS)
    first = next(iter_plays(conn))
    assert first.end_reason == "finished"
    assert started_at[b] < (first.ended_at or 0)  # b began before a ended: they overlapped
    assert not engine.is_crossfading()


def test_stalled_file_is_skipped_with_reason(qtbot, engine: PlaybackEngine,  # type: ignore[no-untyped-def]
                                             conn: sqlite3.Connection, tmp_path: Path) -> None:
    junk = tmp_path / "junk.flac"
    junk.write_bytes(os.urandom(200_000))  # FFmpeg stalls on this: no error, duration 0
    bad = add_track(conn, junk, title="junk", duration_s=100.0)
    good = _track(conn, tmp_path / "good.wav", 2.0)
    failures: list[str] = []
    engine.track_failed.connect(lambda t, why: failures.append(why))
    started: list[TrackId] = []
    engine.track_started.connect(lambda t: started.append(t.id))
    engine.play_tracks([bad, good])
    qtbot.waitUntil(lambda: good in started, timeout=WAIT_MS)
    assert len(failures) == 1
    assert "audio" in failures[0] or "playable" in failures[0]
    plays = list(iter_plays(conn))
    assert [(p.track_id, p.end_reason, p.heard_ms) for p in plays] == [(bad, "failed", 0)]
    assert bad in recent_failures(conn)


def test_missing_and_undecodable_paths_fail_at_once(qtbot, engine: PlaybackEngine,  # type: ignore[no-untyped-def]
                                                    conn: sqlite3.Connection,
                                                    tmp_path: Path) -> None:
    missing = add_track(conn, tmp_path / "gone.flac", title="gone")
    raw = os.fsencode(tmp_path) + b"/caf\xe9.wav"  # Latin-1 name: not UTF-8
    make_track(tmp_path / "plain.wav", tone(440, 1.0))
    os.rename(os.fsencode(tmp_path / "plain.wav"), raw)
    latin = add_track(conn, tmp_path / "caf\ufffd.wav", title="latin", path_bytes=raw)
    failures: list[tuple[TrackId, str]] = []
    engine.track_failed.connect(lambda t, why: failures.append((t.id, why)))
    engine.play_tracks([missing, latin])
    qtbot.waitUntil(lambda: len(failures) == 2, timeout=WAIT_MS)
    assert failures[0] == (missing, "file not found")
    assert failures[1][0] == latin and "UTF-8" in failures[1][1]
    assert [p.end_reason for p in iter_plays(conn)] == ["failed", "failed"]
    qtbot.waitUntil(lambda: engine.state == "stopped", timeout=WAIT_MS)


def test_queue_and_position_survive_restart(qtbot, conn: sqlite3.Connection,  # type: ignore[no-untyped-def]
                                            tmp_path: Path, db_path: Path) -> None:
    ids = [_track(conn, tmp_path / f"t{n}.wav", 6.0, hz=300 + 100 * n) for n in range(3)]
    first = PlaybackEngine(conn)
    first.play_tracks(ids, source="playlist", source_ref="7")
    first.next()
    first.set_volume(0.4)
    first.set_repeat("queue")
    qtbot.waitUntil(lambda: first.position_ms > 0, timeout=WAIT_MS)
    first.seek(2500)
    qtbot.waitUntil(lambda: first.position_ms >= 2500, timeout=WAIT_MS)
    first.pause()
    saved_position = first.position_ms
    first.close()

    conn2 = connect(db_path)  # a new process would open the database afresh
    second = PlaybackEngine(conn2)
    second.restore()
    assert [i.track_id for i in second.queue.items] == ids
    assert second.queue.current == 1
    assert second.queue.items[1].source == "playlist"
    assert second.position_ms == saved_position
    assert (second.volume, second.repeat) == (0.4, "queue")
    assert second.state == "paused"
    second.play()
    qtbot.waitUntil(lambda: second.position_ms > saved_position, timeout=WAIT_MS)
    assert second.current_track is not None and second.current_track.id == ids[1]
    second.close()
    ends = [p.end_reason for p in iter_plays(conn2)]
    assert ends == ["skipped", "closed", "closed"]
    conn2.close()


def test_queue_operations_and_shuffle_restore() -> None:
    q = PlayQueue()
    q.add([TrackId(i) for i in (1, 2, 3)])
    q.play_next([TrackId(9)])
    assert [i.track_id for i in q.items] == [1, 9, 2, 3] and q.current == 0
    q.move(3, 1)
    assert [i.track_id for i in q.items] == [1, 3, 9, 2]
    q.remove([0])
    assert [i.track_id for i in q.items] == [3, 9, 2] and q.current == 0
    q.add([TrackId(i) for i in range(10, 30)])
    before = [i.uid for i in q.items]
    q.set_shuffle(True)
    assert q.items[0].uid == before[0]
    assert sorted(i.uid for i in q.items) == sorted(before)
    q.set_shuffle(False)
    assert [i.uid for i in q.items] == before
    restored = PlayQueue.from_json(q.to_json())
    assert restored.items == q.items and restored.current == q.current
    q.play_now([TrackId(77)])
    assert q.current_item() is not None and q.current_item().track_id == 77  # type: ignore[union-attr]
    assert PlayQueue.from_json("{not json").items == []


def test_a_refill_may_bring_back_a_track_heard_long_ago_in_the_queue() -> None:
    """A day-long For you queue: what lies behind the track before the current one was
    heard long ago and is For you's to judge; the rest must not be queued again."""
    q = PlayQueue()
    q.replace([TrackId(i) for i in (1, 2, 3, 4, 5)], start=3, source="foryou")
    assert q.still_ahead() == {3, 4, 5}
    q.go_to(0)
    assert q.still_ahead() == {1, 2, 3, 4, 5}
    assert PlayQueue().still_ahead() == set()


def test_queue_keeps_why_a_recommender_picked_a_track_across_a_restart() -> None:
    q = PlayQueue()
    q.replace([TrackId(5), TrackId(6)], source="radio", source_ref="5",
              why={TrackId(6): "similar timbre to “<b>Seed</b>”"})
    q.add([TrackId(7), TrackId(8)], source="foryou", why={TrackId(8): "you liked Z"})
    q.add([TrackId(9)])  # queued by hand: no reason
    assert [i.why for i in q.items] == [None, "similar timbre to “<b>Seed</b>”", None, "you liked Z", None]
    restored = PlayQueue.from_json(q.to_json())
    assert restored.items == q.items
    # A queue saved before reasons existed still loads, without them.
    old = '{"items": [{"uid": 1, "track_id": 3, "source": "radio", "source_ref": null}], "current": 0}'
    assert [(i.track_id, i.why) for i in PlayQueue.from_json(old).items] == [(3, None)]


def test_queue_drops_tracks_gone_from_library(conn: sqlite3.Connection, tmp_path: Path) -> None:
    from player.db import transaction
    from player.queue import save_queue

    a = add_track(conn, tmp_path / "a.flac", title="a")
    b = add_track(conn, tmp_path / "b.flac", title="b")
    q = PlayQueue()
    q.add([a, b])
    q.go_to(1)
    save_queue(conn, q)
    with transaction(conn):
        conn.execute("DELETE FROM tracks WHERE id = ?", (a,))
    loaded = load_queue(conn)
    assert [i.track_id for i in loaded.items] == [b] and loaded.current == 0


def test_cli_play_logs_history_like_the_window(qtbot, conn: sqlite3.Connection,  # type: ignore[no-untyped-def]
                                               tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from ui.cli import run

    a = _track(conn, tmp_path / "a.opus", 1.0)
    b = _track(conn, tmp_path / "b.flac", 30.0)
    assert run(["play", str(tmp_path / "a.opus"), "--no-mpris"]) == 0  # by path, to the end
    assert "▶ Test - a" in capsys.readouterr().out
    # --similar goes through the recommendation engine; the seed plays first, as a radio
    assert run(["play", "--similar", str(b), "--for", "1", "--no-mpris"]) == 0
    plays = list(iter_plays(conn))
    assert [(p.track_id, p.end_reason, p.source) for p in plays] == [
        (a, "finished", "library"), (b, "stopped", "radio")]
    assert plays[1].source_ref == str(b)
    # The radio's picks carry their reasons into the saved queue (the seed has none).
    saved = load_queue(conn)
    assert saved.items[0].track_id == b and saved.items[0].why is None
    assert all("“b” by Test" in (i.why or "") for i in saved.items[1:]) and len(saved.items) > 1
    assert run(["play", "12345", "--no-mpris"]) == 2
    assert "no track with id 12345 in the library" in capsys.readouterr().err


def test_cli_radio_keeps_going_until_nothing_is_left(qtbot, conn: sqlite3.Connection,  # type: ignore[no-untyped-def]
                                                     tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """`play --similar` is a radio as in the window: -n is only its first batch; more
    follow as the queue runs low, until every track that fits has been offered once."""
    from ui.cli import run

    ids = [_track(conn, tmp_path / f"t{i}.wav", 0.6, hz=300 + 40 * i) for i in range(6)]
    assert run(["play", "--similar", str(ids[0]), "-n", "1", "--no-mpris"]) == 0
    out = capsys.readouterr().out
    plays = list(iter_plays(conn))
    assert [p.end_reason for p in plays] == ["finished"] * 6
    assert sorted(p.track_id for p in plays) == sorted(ids) and plays[0].track_id == ids[0]
    assert {p.source for p in plays} == {"radio"}
    assert out.count("the radio has offered every track of the library that fits") == 1
    assert out.count("\u25b6 ") == 6  # each started once


@pytest.mark.parametrize("crossfade", ["0", "0.3"])  # a fading track is stored late
def test_cli_for_you_keeps_going_until_nothing_is_left(qtbot, conn: sqlite3.Connection,  # type: ignore[no-untyped-def]
                                                       tmp_path: Path, crossfade: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from ui.cli import run

    ids = [_track(conn, tmp_path / f"t{i}.wav", 0.6, hz=300 + 40 * i) for i in range(6)]
    assert run(["play", "--foryou", "-n", "2", "--crossfade", crossfade, "--no-mpris"]) == 0
    out = capsys.readouterr().out
    plays = list(iter_plays(conn))
    # Each track once (a track heard in the last hours is not offered again), then it ends.
    assert sorted(p.track_id for p in plays) == sorted(ids)
    assert {p.source for p in plays} == {"foryou"} and out.count("\u25b6 ") == 6
    assert out.count("For you has offered every track of the library that fits") == 1

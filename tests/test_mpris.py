"""MPRIS checked by the real client: Debian's `playerctl` on a private session bus."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtDBus import QDBusConnection

from player.db import connect
from player.models import TrackId
from player.mpris import MprisService, clean_text, track_metadata
from player.playback import PlaybackEngine, PlaybackSettings
from player.queue import load_tracks
from tests.library_rows import add_track
from tests.media import make_track, tone

# Qt Multimedia's FFmpeg threads log ("No audio device detected") while the main thread
# waits on them inside a player call that holds the GIL; pytest-qt's Python log handler
# would then wait for the GIL: a deadlock. These tests do not capture Qt logs.
pytestmark = [
    pytest.mark.skipif(
        not (shutil.which("playerctl") and shutil.which("dbus-daemon")),
        reason="playerctl and dbus-daemon are installed by ./run-tests' bootstrap",
    ),
    pytest.mark.no_qt_log,
]
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def bus_address() -> Iterator[str]:
    """A private session bus for this module: never the user's own."""
    proc = subprocess.run(
        ["dbus-daemon", "--session", "--print-address=1", "--print-pid=1", "--fork"],
        capture_output=True, text=True, check=True,
    )
    address, pid = proc.stdout.split()[:2]
    yield address
    os.kill(int(pid), signal.SIGTERM)


@pytest.fixture
def player(qtbot, bus_address: str, db_path: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
           monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[PlaybackEngine, list[TrackId]]]:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus_address)
    conn = connect(db_path)
    ids = []
    cover = tmp_path / "cover.jpg"
    cover.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    from player.db import transaction

    with transaction(conn):
        conn.execute("INSERT INTO covers (hash, source, size_bytes, image_path) VALUES "
                     "('c1', 'folder', 10, ?)", (str(cover),))
    for n, (title, artist) in enumerate([("First\x07 Song", "Ann; Bob"), ("Second", "Cy"),
                                         ("Third", "Di")]):
        path = tmp_path / f"t{n}.flac"
        make_track(path, tone(300 + 100 * n, 20.0))
        ids.append(add_track(conn, path, title=title, artist=artist, album="Alb\x1b[31m",
                             duration_s=20.0, cover_hash="c1"))
    engine = PlaybackEngine(conn, PlaybackSettings())
    bus = QDBusConnection.connectToBus(bus_address, f"timbre-test-{id(engine)}")
    assert bus.isConnected()
    service = MprisService.start(engine, bus=bus)
    assert service is not None
    yield engine, ids
    service.stop()
    engine.close()
    QDBusConnection.disconnectFromBus(f"timbre-test-{id(engine)}")
    conn.close()


def playerctl(qtbot, *args: str) -> str:  # type: ignore[no-untyped-def]
    """Run playerctl against the private bus while the Qt loop answers it."""
    proc = subprocess.Popen(["playerctl", "--player=timbre", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    qtbot.waitUntil(lambda: proc.poll() is not None, timeout=WAIT_MS)
    out, err = proc.communicate()
    assert proc.returncode == 0, f"playerctl {' '.join(args)} failed: {err}"
    return out.strip()


def test_playerctl_lists_reads_and_controls(qtbot, player) -> None:  # type: ignore[no-untyped-def]
    engine, ids = player
    engine.play_tracks(ids)
    qtbot.waitUntil(lambda: engine.position_ms > 0, timeout=WAIT_MS)

    proc = subprocess.Popen(["playerctl", "-l"], stdout=subprocess.PIPE, text=True)
    qtbot.waitUntil(lambda: proc.poll() is not None, timeout=WAIT_MS)
    assert "timbre" in proc.communicate()[0].split()

    assert playerctl(qtbot, "status") == "Playing"
    assert playerctl(qtbot, "metadata", "--format", "{{duration(mpris:length)}}") == "0:20"
    assert playerctl(qtbot, "metadata", "--format", "{{artist}}|{{title}}|{{album}}") == \
        "Ann, Bob|First Song|Alb[31m"
    assert playerctl(qtbot, "metadata", "mpris:trackid").strip("'") == f"/org/timbre/track/{ids[0]}"
    assert playerctl(qtbot, "metadata", "mpris:artUrl").startswith("file:///")

    playerctl(qtbot, "play-pause")
    assert engine.state == "paused"
    assert playerctl(qtbot, "status") == "Paused"
    playerctl(qtbot, "play-pause")
    assert engine.state == "playing"

    playerctl(qtbot, "next")
    assert engine.current_track is not None and engine.current_track.id == ids[1]
    assert playerctl(qtbot, "metadata", "title") == "Second"

    playerctl(qtbot, "position", "12")
    qtbot.waitUntil(lambda: engine.position_ms >= 12_000, timeout=WAIT_MS)
    assert 12.0 <= float(playerctl(qtbot, "position")) < 20.0
    playerctl(qtbot, "previous")  # past 3 s: restarts the track
    assert engine.current_track.id == ids[1] and engine.position_ms < 3000
    playerctl(qtbot, "previous")  # at the start: back to the first track
    assert engine.current_track.id == ids[0]

    playerctl(qtbot, "volume", "0.25")
    assert engine.volume == pytest.approx(0.25)
    assert float(playerctl(qtbot, "volume")) == pytest.approx(0.25)
    playerctl(qtbot, "loop", "Playlist")
    assert engine.repeat == "queue"
    playerctl(qtbot, "shuffle", "On")
    assert engine.shuffle
    playerctl(qtbot, "stop")
    assert engine.state == "stopped"
    assert playerctl(qtbot, "status") == "Stopped"


def test_properties_changed_reaches_a_follower(qtbot, player) -> None:  # type: ignore[no-untyped-def]
    engine, ids = player
    follower = subprocess.Popen(
        ["playerctl", "--player=timbre", "--follow", "metadata", "--format",
         "{{status}} {{title}}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        qtbot.wait(500)  # let it subscribe before anything changes
        engine.play_tracks(ids)
        qtbot.waitUntil(lambda: engine.position_ms > 0, timeout=WAIT_MS)
        engine.next()
        qtbot.wait(500)
    finally:
        follower.terminate()
    lines = follower.communicate()[0].splitlines()
    assert "Playing First Song" in lines
    assert "Playing Second" in lines


def test_metadata_types_and_control_characters(db_path: Path, tmp_path: Path) -> None:
    conn = connect(db_path)
    path = tmp_path / "x.flac"
    make_track(path, tone(440, 1.0))
    tid = add_track(conn, path, title="A\x00B\u202eC", artist="Z", duration_s=4000.5)
    track = load_tracks(conn, [tid])[tid]
    meta = track_metadata(track)
    assert meta["xesam:title"] == "ABC"
    assert meta["xesam:artist"] == ["Z"]
    assert meta["mpris:length"].value == 4_000_500_000  # type: ignore[attr-defined]
    assert clean_text("ok\ttext\n") == "oktext"
    assert track_metadata(None)["mpris:trackid"].value.endswith("/NoTrack")  # type: ignore[attr-defined]
    conn.close()


def test_no_session_bus_means_no_mpris(qtbot, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    conn = connect(db_path)
    engine = PlaybackEngine(conn)
    bus = QDBusConnection.connectToBus("unix:path=/nonexistent/bus", "timbre-test-nobus")
    assert MprisService.start(engine, bus=bus) is None
    engine.close()
    conn.close()

"""Suggested tags in the Properties dialog: Reject leaves the file alone, Accept writes the
tag into it (a real scanned file, a real offscreen window)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import mutagen
import pytest

from player import browse
from player import suggestions_store as store
from player.models import TrackId
from player.scanner import scan
from tests.media import make_track, tone
from tests.window_helpers import quiet_window
from ui.main_window import MainWindow

WAIT_MS = 20_000


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def untagged(tmp_path: Path) -> Path:
    """A FLAC file with a title and no genre or mood."""
    return make_track(tmp_path / "music" / "song.flac", tone(330, 0.5), title="No Genre Yet",
                      artist="Someone")


@pytest.fixture
def window(qtbot, db_path: Path, tmp_path: Path, untagged: Path) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    assert scan([untagged.parent], db_path).added == 1
    w = quiet_window(qtbot, db_path, tmp_path)
    yield w
    w.close()


def _suggest(w: MainWindow, tid: TrackId) -> None:
    """Store what the auto-tagger would (`timbre autotag`): two genres and a mood."""
    version = "autotag-test"
    store.replace_suggestions(w.conn, "genre", [
        store.Suggestion(tid, "genre", "Jazz", 0.81), store.Suggestion(tid, "genre", "Blues", 0.4)],
        version)
    store.replace_suggestions(w.conn, "mood", [store.Suggestion(tid, "mood", "calm", 0.66)],
                              version)


def test_suggested_tags_are_written_only_when_accepted(
        qtbot, window: MainWindow, untagged: Path) -> None:  # type: ignore[no-untyped-def]
    w = window
    tid = browse.track_ids(w.conn)[0]
    _suggest(w, tid)
    before = _sha(untagged)
    dialog = w.show_properties(tid)
    assert dialog is not None
    shown = dialog.shown_suggestions()
    assert [(s.field, s.value) for s in shown] == [("genre", "Jazz"), ("mood", "calm"),
                                                    ("genre", "Blues")]
    assert dialog.tabs.tabText(dialog.tabs.indexOf(dialog.suggestions_tab)) == \
        "Suggested tags (3)"

    # Reject: the suggestion goes, the file does not change.
    calm = next(s for s in shown if s.value == "calm")
    qtbot.mouseClick(dialog.suggestion_buttons(calm)[1], _left())
    assert [s.value for s in dialog.shown_suggestions()] == ["Jazz", "Blues"]
    assert [s.value for s in store.suggestions(w.conn, tid)] == ["Jazz", "Blues"]
    assert _sha(untagged) == before
    assert "unchanged" in dialog.suggestions_status.text()

    # Accept: the tag is in the file and the library; the other genre guess goes too.
    jazz = next(s for s in shown if s.value == "Jazz")
    qtbot.mouseClick(dialog.suggestion_buttons(jazz)[0], _left())
    qtbot.waitUntil(lambda: "Wrote" in dialog.suggestions_status.text(), timeout=WAIT_MS)
    assert _sha(untagged) != before
    assert mutagen.File(untagged)["genre"] == ["Jazz"]
    assert browse.row(w.conn, tid).genre == "Jazz"
    assert store.suggestions(w.conn, tid) == []
    assert dialog.shown_suggestions() == []
    assert dialog.tabs.tabText(dialog.tabs.indexOf(dialog.suggestions_tab)) == "Suggested tags"
    assert f"into {untagged}" in dialog.suggestions_status.text()
    tags = dialog.tags_table
    assert ("genre", "Jazz") in {(tags.item(r, 0).text(), tags.item(r, 1).text())
                                 for r in range(tags.rowCount())}
    # The next scan sees the file as unchanged: the library already has what was written.
    report = scan(None, Path(w.c.db_path))
    assert (report.updated, report.unchanged) == (0, 1)


def test_a_tag_that_cannot_be_written_leaves_everything_as_it_was(
        qtbot, window: MainWindow, untagged: Path) -> None:  # type: ignore[no-untyped-def]
    w = window
    tid = browse.track_ids(w.conn)[0]
    _suggest(w, tid)
    dialog = w.show_properties(tid)
    assert dialog is not None
    untagged.write_bytes(b"not audio any more " * 100)  # replaced since the scan
    before = _sha(untagged)
    jazz = dialog.shown_suggestions()[0]
    qtbot.mouseClick(dialog.suggestion_buttons(jazz)[0], _left())
    qtbot.waitUntil(lambda: "Not written" in dialog.suggestions_status.text(), timeout=WAIT_MS)
    assert _sha(untagged) == before
    assert [s.value for s in store.suggestions(w.conn, tid)] == ["Jazz", "calm", "Blues"]
    assert browse.row(w.conn, tid).genre is None
    assert len(dialog.shown_suggestions()) == 3
    assert dialog.suggestions_table.isEnabled()  # the user can try again or reject


def _left():  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton

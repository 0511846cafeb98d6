"""The window end to end: a real scanned library, real playback, real engine, offscreen Qt.

Screenshots of the main views are saved from the demo-library test: to
$TIMBRE_SCREENSHOTS when set (docs/screenshots/ in the repo), else to tmp_path.
"""

from __future__ import annotations

import functools
import html
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QPushButton

from player import browse, demo
from player.history import iter_plays, record_plays
from player.models import Play, TrackId
from player.queue import load_queue
from player.scanner import scan
from tests.media import chord, make_track, tone
from ui.app import apply_look, make_collaborators, make_settings
from ui.main_window import MainWindow

WAIT_MS = 20_000
HTML_TITLE = "<b>Bold</b> <i>move</i> &amp; <a href='x'>link</a>"

# (file, title, artist, album, genre, signal): short files so plays end quickly.
TRACKS = (
    ("a1.flac", "Morning Tone", "Alpha Band", "First Light", "Ambient", tone(220, 1.5)),
    ("a2.flac", "Evening Tone", "Alpha Band", "First Light", "Ambient", tone(330, 1.5)),
    ("b1.wav", "Chord One", "Beta Trio", "Chords", "Jazz", chord([261.6, 329.6, 392.0], 1.5)),
    ("b2.ogg", "Chord Two", "Beta Trio", "Chords", "Jazz", chord([293.7, 349.2, 440.0], 1.5)),
    ("c1.mp3", "Low Hum", "Gamma", "Hums", "Drone", tone(110, 1.5)),
    ("h1.flac", HTML_TITLE, "<script>alert(1)</script>", "<h1>Album</h1>", "Rock", tone(500, 1.5)),
)


@pytest.fixture
def music(tmp_path: Path) -> Path:
    folder = tmp_path / "music"
    for name, title, artist, album, genre, signal in TRACKS:
        make_track(folder / name, signal, title=title, artist=artist, album=album, genre=genre)
    return folder


def _window(qtbot, db_path: Path, tmp_path: Path, **overrides: object) -> MainWindow:  # type: ignore[no-untyped-def]
    apply_look(QApplication.instance())
    collab = make_collaborators(db_path, make_settings(tmp_path / "window.ini"))
    for key, value in overrides.items():
        setattr(collab, key, value)
    window = MainWindow(collab)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.fixture
def window(qtbot, db_path: Path, tmp_path: Path, music: Path) -> Iterator[MainWindow]:  # type: ignore[no-untyped-def]
    report = scan([music], db_path)
    assert report.added == len(TRACKS)
    w = _window(qtbot, db_path, tmp_path)
    yield w
    w.close()


def _click_sidebar(qtbot, w: MainWindow, key: str) -> None:  # type: ignore[no-untyped-def]
    item = w.sidebar._items[key]
    rect = w.sidebar.visualItemRect(item)
    qtbot.mouseClick(w.sidebar.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert w.current_view() == key.partition(":")[0]
    if key == "songs":  # the song list is queried in a worker
        qtbot.waitUntil(lambda: w.songs.table.model().rowCount() > 0, timeout=WAIT_MS)
    pages = {"albums": w.albums.model, "artists": w.artists.names, "genres": w.genres.names}
    if key in pages:  # so are albums, artists and genres
        qtbot.waitUntil(lambda: pages[key].rowCount() > 0, timeout=WAIT_MS)


def _double_click_row(qtbot, view, row: int) -> None:  # type: ignore[no-untyped-def]
    view.scrollTo(view.model().index(row, 0))
    rect = view.visualRect(view.model().index(row, 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_clicking_through_views_plays_a_track_and_history_records_it(
        qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    w = window
    for key in ("albums", "artists", "genres", "history", "songs"):
        _click_sidebar(qtbot, w, key)
    table = w.songs.table
    assert table.model().rowCount() == len(TRACKS)
    expected = TrackId(table.track_model().track_id(1))
    with qtbot.waitSignal(w.playback.play_recorded, timeout=WAIT_MS) as recorded:
        _double_click_row(qtbot, table, 1)
    assert recorded.args[0].track_id == expected
    assert w.now_playing.title.text() != "Nothing playing"
    _click_sidebar(qtbot, w, "history")
    qtbot.waitUntil(lambda: w.history.model.rowCount() >= 1, timeout=WAIT_MS)
    plays = list(iter_plays(w.conn))
    assert plays[0].track_id == expected
    title = browse.row(w.conn, expected).title
    assert w.history.model.data(w.history.model.index(w.history.model.rowCount() - 1, 1)) == title
    # the play count column follows the history
    _click_sidebar(qtbot, w, "songs")
    model = w.songs.table.track_model()
    row = model.track_ids().index(expected)
    assert model.data(model.index(row, model.column_of("play_count"))) == "1"


def test_album_page_and_artist_filter(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    w = window
    _click_sidebar(qtbot, w, "albums")
    albums = w.albums.model
    row = next(r for r in range(albums.rowCount()) if albums.album(r).title == "Chords")
    index = albums.index(row, 0)
    w.albums.view.activated.emit(index)
    assert w.current_view() == "album"
    titles = {w.album_page.table.track_model().row_of(r).title
              for r in range(w.album_page.table.model().rowCount())}
    assert titles == {t[1] for t in TRACKS if t[3] == "Chords"}
    _click_sidebar(qtbot, w, "artists")
    w.artists.select_name("alpha band")
    model = w.artists.table.track_model()
    assert {model.row_of(r).artist for r in range(model.rowCount())} == {"Alpha Band"}


def test_search_filters_as_you_type(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    w = window
    _click_sidebar(qtbot, w, "songs")
    w.focus_search()
    qtbot.keyClicks(w.search_box, "chor")
    qtbot.waitUntil(lambda: w.current_view() == "search", timeout=WAIT_MS)
    model = w.search_page.table.track_model()
    qtbot.waitUntil(lambda: model.rowCount() > 0, timeout=WAIT_MS)
    found = {model.row_of(r).title for r in range(model.rowCount())}
    assert found == {t[1] for t in TRACKS if "chor" in " ".join(t[1:5]).lower()}
    qtbot.keyClicks(w.search_box, "d two")
    qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=WAIT_MS)
    assert model.row_of(0).title == "Chord Two"
    qtbot.keyClick(w.search_box, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: w.current_view() == "songs", timeout=WAIT_MS)


def test_context_menu_play_similar_fills_the_queue(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    w = window
    _click_sidebar(qtbot, w, "songs")
    model = w.songs.table.track_model()
    seed = model.track_id(0)
    menu = w.actions_.menu([seed], w.songs.table)
    labels = [a.text() for a in menu.actions() if a.text()]
    for wanted in ("Play", "Play next", "Add to queue", "Play similar", "Add to playlist",
                   "Like", "Not this", "Ban artist", "Show in folder", "Properties"):
        assert wanted in labels
    similar = next(a for a in menu.actions() if a.objectName() == "play_similar")
    similar.trigger()
    qtbot.waitUntil(lambda: w.queue_model.rowCount() > 1, timeout=60_000)
    queue = w.playback.queue.items
    assert queue[0].track_id == seed
    assert all(i.source == "radio" for i in queue)
    assert len({i.track_id for i in queue}) == len(queue)  # never the seed twice
    # Each pick's row says why it was picked; the seed's, which was not picked, does not.
    qm = w.queue_model
    tips = [qm.data(qm.index(r, 0), Qt.ItemDataRole.ToolTipRole) for r in range(qm.rowCount())]
    seed_title, title = (qm.data(qm.index(r, 0), Qt.ItemDataRole.DisplayRole) for r in (0, 1))
    assert tips[1].startswith(f"<qt>{html.escape(title)}<br>")
    assert html.escape(seed_title) in tips[1]  # the reason names the seed, as plain text
    assert "<br>" not in tips[0]
    # The reasons are saved with the queue: a restart shows them again.
    w.playback.stop()
    saved = load_queue(w.conn)
    assert [i.why for i in saved.items] == [i.why for i in w.playback.queue.items]
    assert saved.items[0].why is None and all(i.why for i in saved.items[1:])
    # A radio with nothing to go on says so rather than "0 similar tracks queued".
    w._on_recs_radio_ready([])
    assert w.statusBar().currentMessage().startswith("No similar tracks: this track has no tags")


def test_the_radio_keeps_going_when_its_queue_runs_low(qtbot, db_path: Path,
                                                        tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Play similar queues 25 picks; near their end the radio adds more, new ones."""
    folder = tmp_path / "many"
    for i in range(48):
        make_track(folder / f"{i:02d}.flac", tone(200 + 10 * i, 0.3), title=f"Song {i}",
                   artist=f"Band {i % 8}", album=f"Album {i % 8}",
                   genre="Jazz" if i % 2 else "Rock", date=str(1970 + i % 3))
    scan([folder], db_path)
    w = _window(qtbot, db_path, tmp_path)
    seed = browse.track_ids(w.conn)[0]
    w.play_similar([seed])
    qtbot.waitUntil(lambda: len(w.playback.queue.items) > 1, timeout=60_000)
    first = [i.track_id for i in w.playback.queue.items]
    assert len(first) == 26 and first[0] == seed
    w.playback.jump_to(len(first) - 2)  # two left: the radio is asked for more
    qtbot.waitUntil(lambda: len(w.playback.queue.items) > len(first), timeout=60_000)
    items = w.playback.queue.items
    added = [i.track_id for i in items[len(first):]]
    assert added and not set(added) & set(first)
    assert len(set(added)) == len(added)
    assert all(i.source == "radio" and i.why for i in items[len(first):])

    # A ban or "not this" takes the radio's queued picks out, not what the user queued.
    def artist_of(tid: TrackId) -> str | None:
        return browse.rows(w.conn, [tid])[tid].artist

    playing = w.playback.queue.current_item()
    assert playing is not None
    band = artist_of(w.playback.queue.items[3].track_id)
    mine = next(t for t in browse.track_ids(w.conn) if artist_of(t) == band)
    w.playback.enqueue([mine])  # queued by hand (a radio may have queued it too)
    w.actions_.ban_artist([w.playback.queue.items[3].track_id])
    left = [(i.track_id, i.source) for i in w.playback.queue.items]
    assert [t for t, src in left if artist_of(t) == band and src == "radio"] in (
        [], [playing.track_id])
    assert (mine, "library") in left
    unwanted = next(t for t, src in left if src == "radio" and t != playing.track_id)
    w.actions_.not_this([unwanted])
    assert unwanted not in {i.track_id for i in w.playback.queue.items}
    assert w.playback.queue.current_item() == playing  # what plays goes on

    # A small library: the radio runs out of tracks to offer, and says so once.
    for _ in range(10):
        if "offered every track" in w.statusBar().currentMessage():
            break
        size = len(w.playback.queue.items)
        last_radio = max(n for n, i in enumerate(w.playback.queue.items) if i.source == "radio")
        w.playback.jump_to(last_radio)  # not the track queued by hand: that ends the radio
        qtbot.waitUntil(lambda: len(w.playback.queue.items) > size  # noqa: B023
                        or "offered every track" in w.statusBar().currentMessage(),
                        timeout=60_000)
    assert "offered every track" in w.statusBar().currentMessage()
    ids = [i.track_id for i in w.playback.queue.items if i.source == "radio"]
    assert len(ids) == len(set(ids))  # and never offered one twice
    w.playback.stop()
    w.close()


def test_for_you_refill_may_bring_back_a_track_heard_long_ago_in_the_queue(
        qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """A day-long For you session: a track far back in the queue, heard over 12 hours ago,
    may be queued again; the tracks still to play and the one just heard are not."""
    w = window
    old, previous, playing = browse.track_ids(w.conn)[:3]
    day_ago = time.time() - 24 * 3600
    record_plays(w.conn, [Play(track_id=t, started_at=day_ago, ended_at=day_ago + 2,
                               heard_ms=1500, fraction=1.0) for t in (old, previous)])
    _click_sidebar(qtbot, w, "foryou")
    qtbot.waitUntil(lambda: old in w.foryou.model.track_ids(), timeout=60_000)
    w.playback.play_tracks([old, previous, playing], start=2, source="foryou")
    added = [i.track_id for i in w.playback.queue.items[3:]]
    assert old in added and not {previous, playing} & set(added)
    assert all(i.source == "foryou" for i in w.playback.queue.items[3:])
    w.playback.stop()


def test_ban_artist_on_a_shared_credit_bans_the_main_artist(qtbot, db_path: Path,
                                                             tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A track by "Main; Guest": Ban artist bans Main (the whole credit matched nothing)."""
    folder = tmp_path / "credits"
    for i, artist in enumerate((["Main", "Guest"], "Main", "Main", "Guest", "Other", "Other")):
        make_track(folder / f"{i}.flac", tone(300 + 40 * i, 0.3), title=f"Song {i}",
                   artist=artist, genre="Jazz")
    scan([folder], db_path)
    w = _window(qtbot, db_path, tmp_path)
    by_title = {r.title: r for r in browse.rows(w.conn, browse.track_ids(w.conn)).values()}
    w.actions_.ban_artist([by_title["Song 0"].id])
    assert w.statusBar().currentMessage() == "Banned from recommendations: Main"
    from player.library_source import SqliteLibrarySource
    from recommender.engine import Engine

    engine = Engine(SqliteLibrarySource(w.conn))
    picks = {browse.rows(w.conn, [p.track_id])[p.track_id].title
             for p in engine.similar([by_title["Song 3"].id], 10)}
    assert picks == {"Song 4", "Song 5"}  # not Song 0, 1, 2: Main is on them
    w.close()


def test_play_similar_on_a_track_of_a_removed_folder_says_why(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    """History rows outlive their folder; Play similar on one starts no radio and says why."""
    from player.library import list_roots, remove_root

    w = window
    seed = browse.track_ids(w.conn)[0]
    remove_root(w.conn, list_roots(w.conn)[0].id)
    queued = len(w.playback.queue.items)
    w.actions_.play_similar([seed])
    message = w.statusBar().currentMessage()
    assert message.startswith(f"No similar tracks: track {seed} (")
    assert "its folder was removed" in message
    assert len(w.playback.queue.items) == queued


def test_queue_panel_reorders_by_drop_and_removes(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    w = window
    ids = browse.track_ids(w.conn)
    w.playback.enqueue(ids[:4])
    w.now_playing.queue_button.click()
    assert w.queue_panel.isVisible()
    model = w.queue_model
    data = model.mimeData([model.index(0, 0)])
    model.dropMimeData(data, Qt.DropAction.MoveAction, 3, 0, model.index(-1, -1))
    assert [i.track_id for i in w.playback.queue.items] == [ids[1], ids[2], ids[0], ids[3]]
    assert model.track_ids() == [ids[1], ids[2], ids[0], ids[3]]
    w.queue_panel.table.selectRow(0)
    w.queue_panel.remove_button.click()
    assert model.track_ids() == [ids[2], ids[0], ids[3]]
    w.queue_panel.clear_button.click()
    assert model.rowCount() == 0


def test_html_in_tags_renders_as_literal_text(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    w = window
    html_id = next(i for i in browse.track_ids(w.conn) if browse.row(w.conn, i).title == HTML_TITLE)
    w.playback.play_tracks([html_id])
    qtbot.waitUntil(lambda: w.now_playing.title.text() == HTML_TITLE, timeout=WAIT_MS)
    assert w.now_playing.artist.text() == "<script>alert(1)</script>"
    # Every label in the window shows plain text: none can render a tag's markup.
    w.show_properties(html_id)
    dialogs = [d for d in QApplication.topLevelWidgets() if d.windowTitle() == "Properties"]
    for widget in [w, *dialogs]:
        for label in widget.findChildren(QLabel):
            if label.text():
                assert label.textFormat() == Qt.TextFormat.PlainText, label.text()
    # A rich-text label would lay out "Bold move & link" at about half the width of the
    # literal text; the plain label is as wide as the whole string with its tags.
    label = w.now_playing.title
    assert label.fontMetrics().horizontalAdvance(HTML_TITLE) == \
        label.fontMetrics().horizontalAdvance(label.text())
    # Item views draw the display text as is, through the plain styled delegate.
    _click_sidebar(qtbot, w, "songs")
    model = w.songs.table.track_model()
    row = model.track_ids().index(html_id)
    assert model.data(model.index(row, model.column_of("title"))) == HTML_TITLE
    assert type(w.songs.table.itemDelegate()).__name__ == "QStyledItemDelegate"
    for d in dialogs:
        d.close()
    w.playback.stop()


def test_keyboard_shortcuts(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    w = window
    ids = browse.track_ids(w.conn)
    w.playback.play_tracks(ids[:3])
    qtbot.waitUntil(lambda: w.playback.state == "playing", timeout=WAIT_MS)
    w.songs.table.setFocus()
    qtbot.keyClick(w, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: w.playback.state == "paused", timeout=WAIT_MS)
    qtbot.keyClick(w, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: w.playback.queue.current == 1, timeout=WAIT_MS)
    qtbot.keyClick(w, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert w.search_box.hasFocus()
    qtbot.keyClick(w.search_box, Qt.Key.Key_Space)  # typing a space is not play/pause
    assert w.search_box.text() == " "
    w.playback.stop()


def test_window_remembers_view_and_columns(qtbot, db_path: Path, tmp_path: Path,
                                           music: Path) -> None:  # type: ignore[no-untyped-def]
    scan([music], db_path)
    w = _window(qtbot, db_path, tmp_path)
    _click_sidebar(qtbot, w, "albums")
    col = w.songs.table.track_model().column_of("last_played")
    w.songs.table.setColumnHidden(col, False)
    w.songs.table._save_columns()

    def foryou_order(win: MainWindow) -> list[str]:
        table, model = win.foryou.table, win.foryou.model
        header = table.horizontalHeader()
        cols = sorted((c for c in range(model.columnCount()) if not table.isColumnHidden(c)),
                      key=header.visualIndex)
        return [model.column_key(c) for c in cols]

    first = foryou_order(w)
    assert first[:4] == ["actions", "title", "artist", "why"]
    w.queue_panel.table.setColumnWidth(w.queue_model.column_of("title"), 231)
    w.close()
    for _ in range(2):  # the defaults are laid out once, not again over what was saved
        again = _window(qtbot, db_path, tmp_path)
        qtbot.waitUntil(functools.partial(lambda win: win.current_view() == "albums", again),
                        timeout=WAIT_MS)
        assert not again.songs.table.isColumnHidden(col)
        assert foryou_order(again) == first
        assert again.queue_panel.table.columnWidth(again.queue_model.column_of("title")) == 231
        again.close()


@pytest.mark.slow
def test_welcome_page_then_demo_library_scans_analyses_and_recommends(
        qtbot, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    small_demo = functools.partial(demo.generate, tracks_per_style=3)
    w = _window(qtbot, db_path, tmp_path, make_demo=small_demo)
    qtbot.wait(300)  # the window fills its views just after it is shown
    assert w.current_view() == "welcome"
    shots = Path(os.environ.get("TIMBRE_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    _grab(w, shots / "welcome.png")
    qtbot.mouseClick(w.welcome.demo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.songs.table.model().rowCount() > 0, timeout=120_000)  # fills
    qtbot.waitUntil(lambda: not w.jobs.is_busy(), timeout=300_000)
    conn: sqlite3.Connection = w.conn
    assert browse.track_count(conn) == len(demo.STYLES) * 3
    assert browse.unanalyzed_count(conn) == 0
    assert {a.name for a in browse.artists(conn)} == {s.artist for s in demo.STYLES}
    # Analysis is followed by the automatic mixes, listed under Mixes and Playlists.
    mixes = conn.execute("SELECT id, name FROM playlists WHERE kind = 'generated'").fetchall()
    assert len(mixes) >= 2
    qtbot.waitUntil(lambda: all(f"playlist:{pid}" in w.sidebar._items for pid, _ in mixes),
                    timeout=10_000)
    _click_sidebar(qtbot, w, "foryou")
    qtbot.waitUntil(lambda: w.foryou.model.rowCount() > 0, timeout=120_000)
    reasons = [w.foryou.model.data(w.foryou.model.index(r, w.foryou.model.columnCount() - 1))
               for r in range(w.foryou.model.rowCount())]
    assert all(reasons)
    # No history yet: the cold-start bar offers the library's genres; picking one puts
    # that genre first (the small demo has 3 jazz tracks for 30 picks).
    assert w.foryou.start_bar.isVisibleTo(w)
    buttons = {b.property("like"): b for b in w.foryou.start_bar.findChildren(QPushButton)}
    jazz = next(spec for spec in buttons if spec.lower() == "genre:jazz")
    with qtbot.waitSignal(w.recs.picks_ready, timeout=60_000):
        buttons[jazz].click()
    ids = w.foryou.model.track_ids()
    genre_of = {t: r.genre for t, r in browse.rows(conn, ids).items()}
    jazz_ids = {t for t in browse.track_ids(conn) if browse.rows(conn, [t])[t].genre == "Jazz"}
    assert jazz_ids and jazz_ids <= set(ids)
    assert genre_of[ids[0]] == "Jazz", [genre_of[t] for t in ids[:5]]
    # Played from For you, the queue keeps each pick's reason on its row.
    w.foryou.play_button.click()
    qtbot.waitUntil(lambda: w.queue_model.rowCount() == len(ids), timeout=10_000)
    qm = w.queue_model
    tip = qm.data(qm.index(0, 0), Qt.ItemDataRole.ToolTipRole)
    assert tip.endswith("<br>" + html.escape(w.foryou.model.data(
        w.foryou.model.index(0, w.foryou.model.columnCount() - 1))) + "</qt>")
    w.playback.stop()
    _save_screenshots(qtbot, w, shots)


def _grab(widget: MainWindow, path: Path) -> None:
    """Save a screenshot as a small palette PNG (commit-worthy) and check it is real."""
    from PIL import Image

    assert widget.grab().save(str(path))
    image = Image.open(path).convert("RGB")
    assert len(image.getcolors(1 << 20) or []) > 20  # drawn, not a blank window
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def _save_screenshots(qtbot, w: MainWindow, shots: Path) -> None:  # type: ignore[no-untyped-def]
    """Play a little, then grab the main views."""
    ids = browse.track_ids(w.conn)
    with qtbot.waitSignal(w.playback.play_recorded, timeout=WAIT_MS * 3):
        w.playback.play_tracks(ids[:2])
        w.playback.seek(max(0, w.playback.duration_ms - 1500))
    w.now_playing.queue_button.setChecked(True)
    for key in ("songs", "albums", "artists", "foryou", "history"):
        _click_sidebar(qtbot, w, key)
        qtbot.wait(300)
        _grab(w, shots / f"{key}.png")
    _click_sidebar(qtbot, w, "albums")
    w.albums.view.activated.emit(w.albums.model.index(0, 0))
    qtbot.wait(300)
    _grab(w, shots / "album.png")
    w.playback.pause()
    w.close()




def test_install_desktop_entry_puts_files_in_the_xdg_dirs(tmp_path: Path) -> None:
    from ui.app import APP_ID, main

    data_home = Path(os.environ["XDG_DATA_HOME"])
    assert main(["--install-desktop-entry"]) == 0
    desktop = (data_home / "applications" / f"{APP_ID}.desktop").read_text()
    assert f"Icon={APP_ID}" in desktop and "Exec=" in desktop and "Type=Application" in desktop
    assert (data_home / "icons/hicolor/scalable/apps" / f"{APP_ID}.svg").stat().st_size > 0
    png = data_home / "icons/hicolor/256x256/apps" / f"{APP_ID}.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow  # the new file is analysed too (librosa worker processes)
def test_watched_folder_picks_up_new_and_removed_files(qtbot, window: MainWindow,
                                                        music: Path) -> None:  # type: ignore[no-untyped-def]
    w = window
    _click_sidebar(qtbot, w, "songs")
    qtbot.waitUntil(lambda: str(music) in w.jobs.watcher.directories(), timeout=WAIT_MS)
    make_track(music / "new.flac", tone(660, 1.0), title="Brand New", artist="Delta")
    model = w.songs.table.track_model()
    qtbot.waitUntil(lambda: model.rowCount() == len(TRACKS) + 1, timeout=60_000)
    assert "Brand New" in {model.row_of(r).title for r in range(model.rowCount())}
    qtbot.waitUntil(lambda: not w.jobs.is_busy(), timeout=60_000)
    (music / "new.flac").unlink()
    qtbot.waitUntil(lambda: model.rowCount() == len(TRACKS), timeout=60_000)


def test_rating_from_the_context_menu(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    w = window
    _click_sidebar(qtbot, w, "songs")
    model = w.songs.table.track_model()
    first, second = model.track_id(0), model.track_id(1)
    menu = w.actions_.menu([first, second], w.songs.table)
    rating = next(a.menu() for a in menu.actions() if a.text() == "Rating")
    assert [a.objectName() for a in rating.actions() if a.isChecked()] == ["rating_0"]
    next(a for a in rating.actions() if a.objectName() == "rating_4").trigger()
    stars = dict(w.conn.execute("SELECT track_id, stars FROM ratings").fetchall())
    assert stars == {first: 4, second: 4}
    again = w.actions_.menu([first], w.songs.table)
    rating = next(a.menu() for a in again.actions() if a.text() == "Rating")
    assert [a.objectName() for a in rating.actions() if a.isChecked()] == ["rating_4"]
    next(a for a in rating.actions() if a.objectName() == "rating_0").trigger()
    assert w.conn.execute("SELECT track_id FROM ratings").fetchall() == [(second,)]


def test_without_a_display_the_window_says_so_instead_of_aborting(tmp_path: Path) -> None:
    # Qt aborts (SIGABRT) blaming a missing xcb library; we say what is wrong instead.
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-m", "ui.app", "--db", str(tmp_path / "x.db")],
                          env=env, capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1], check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("timbre: no display to open the window on")
    assert not (tmp_path / "x.db").exists()  # nothing was created on the way
    from ui.app import no_display_reason
    assert no_display_reason({"DISPLAY": ":0"}, "linux") is None
    assert no_display_reason({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert no_display_reason({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert no_display_reason({}, "darwin") is None

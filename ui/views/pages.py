"""The content pages: welcome, songs, albums (grid and album page), artists/genres, history."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from PySide6.QtCore import QSettings, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from player import browse
from player.browse import AlbumRow, TrackFilter
from ui.browse_models import AlbumListModel, HistoryModel, NameListModel
from ui.models import NAME_ROLE, format_duration
from ui.views.cover_loader import CoverLoader
from ui.views.icons import app_icon, icon, placeholder_cover, rounded
from ui.views.track_view import TrackTableView
from ui.workers import QueryRunner

COVER = QSize(160, 160)


def plain_label(text: str = "", *, object_name: str | None = None) -> QLabel:
    """Return a QLabel that never interprets its text as HTML (tags are untrusted)."""
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    if object_name:
        label.setObjectName(object_name)
    return label


def title_label(text: str) -> QLabel:
    """Return a page heading (plain text)."""
    label = plain_label(text, object_name="pageTitle")
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 1.6)
    font.setBold(True)
    label.setFont(font)
    return label


class WelcomePage(QWidget):
    """First run: add a music folder (the XDG music dir by default) or try the demo."""

    add_folder = Signal()
    use_folder = Signal(str)
    try_demo = Signal()

    def __init__(self, music_dir: Path | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        outer = QVBoxLayout(self)
        outer.addStretch(2)
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(96, 96))
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        outer.addWidget(logo)
        heading = title_label("Welcome to Timbre")
        heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        outer.addWidget(heading)
        text = plain_label(
            "Add the folders where your music lives. Timbre reads the tags, listens to every "
            "track to learn how it sounds, and recommends from your own listening — all on "
            "this computer, never online."
        )
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setMaximumWidth(520)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(text)
        row.addStretch(1)
        outer.addLayout(row)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.music_button: QPushButton | None = None
        if music_dir is not None and music_dir.is_dir():
            self.music_button = QPushButton(icon("folder"), f"Use {music_dir}")
            self.music_button.setObjectName("primary")
            self.music_button.clicked.connect(lambda: self.use_folder.emit(str(music_dir)))
            buttons.addWidget(self.music_button)
        self.add_button = QPushButton(icon("add"), "Add music folder…")
        self.add_button.clicked.connect(self.add_folder)
        if self.music_button is None:
            self.add_button.setObjectName("primary")
        buttons.addWidget(self.add_button)
        buttons.addStretch(1)
        outer.addLayout(buttons)
        self.demo_note = plain_label("No music yet? Try a demo library of 36 short generated "
                                     "tracks in six styles: it takes under a minute.")
        self.demo_note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.demo_note.setWordWrap(True)
        outer.addSpacing(18)
        outer.addWidget(self.demo_note)
        demo_row = QHBoxLayout()
        demo_row.addStretch(1)
        self.demo_button = QPushButton(icon("music"), "Try the demo library")
        self.demo_button.clicked.connect(self.try_demo)
        demo_row.addWidget(self.demo_button)
        demo_row.addStretch(1)
        outer.addLayout(demo_row)
        outer.addStretch(3)


class SongsPage(QWidget):
    """A heading over a track table (Songs, search results, a playlist, an artist...)."""

    def __init__(self, title: str, table: TrackTableView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = table
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 0)
        head = QHBoxLayout()
        self.title = title_label(title)
        self.subtitle = plain_label(object_name="subtitle")
        head.addWidget(self.title)
        head.addSpacing(12)
        head.addWidget(self.subtitle, 0, Qt.AlignmentFlag.AlignBottom)
        head.addStretch(1)
        self.play_button = QPushButton(icon("play"), "Play all")
        self.play_button.clicked.connect(lambda: table.play_requested.emit(
            table.track_model().track_ids(), 0))
        head.addWidget(self.play_button)
        self._head = head
        layout.addLayout(head)
        layout.addWidget(table, 1)
        table.model().modelReset.connect(self.update_count)
        table.model().rowsInserted.connect(self.update_count)

    def set_title(self, text: str) -> None:
        """Set the heading (plain text)."""
        self.title.setText(text)

    def add_button(self, button: QPushButton) -> QPushButton:
        """Put a button of the page's own beside Play all."""
        self._head.insertWidget(self._head.indexOf(self.play_button), button)
        return button

    def update_count(self) -> None:
        """Show how many tracks the table holds."""
        n = self.table.model().rowCount()
        self.subtitle.setText(f"{n:,} track{'s' if n != 1 else ''}")


class AlbumsPage(QWidget):
    """The cover grid; `album_opened(album)` on double-click."""

    album_opened = Signal(object)

    def __init__(self, queries: QueryRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._queries = queries
        self.model = AlbumListModel(lambda a: placeholder_cover(f"{a.artist}\x00{a.title}"))
        self.loader = CoverLoader(COVER, self)
        self.model.cover_wanted.connect(self.loader.request)
        self.loader.loaded.connect(self._on_loader_loaded)
        self.view = QListView()
        self.view.setObjectName("albumGrid")
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setIconSize(COVER)
        self.view.setGridSize(QSize(COVER.width() + 28, COVER.height() + 56))
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setUniformItemSizes(True)
        self.view.setWordWrap(True)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.setSpacing(6)
        self.view.setModel(self.model)
        self.view.activated.connect(lambda i: self.album_opened.emit(self.model.album(i.row())))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 0)
        self.title = title_label("Albums")
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)

    def refresh(self) -> None:
        """Re-read the albums (in a worker: a large library has tens of thousands)."""
        self._queries.run("albums", browse.albums, self.model.set_albums)  # type: ignore[arg-type]

    def _on_loader_loaded(self, key: str, image: QImage) -> None:
        self.model.set_cover(key, QIcon(rounded(image, COVER)))


class AlbumPage(QWidget):
    """One album: its cover, title, artist and year over its tracks."""

    back = Signal()

    def __init__(self, table: TrackTableView, loader: CoverLoader,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = table
        self._album: AlbumRow | None = None
        self._loader = loader
        loader.loaded.connect(self._on_loader_loaded)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 0)
        head = QHBoxLayout()
        self.cover = QLabel()
        self.cover.setFixedSize(COVER)
        head.addWidget(self.cover)
        text = QVBoxLayout()
        back = QPushButton("‹ Albums")
        back.setFlat(True)
        back.clicked.connect(self.back)
        text.addWidget(back, 0, Qt.AlignmentFlag.AlignLeft)
        text.addStretch(1)
        self.album_title = title_label("")
        self.album_title.setWordWrap(True)
        self.artist = plain_label()
        self.info = plain_label(object_name="subtitle")
        self.play_button = QPushButton(icon("play"), "Play album")
        self.play_button.setObjectName("primary")
        self.play_button.clicked.connect(
            lambda: table.play_requested.emit(table.track_model().track_ids(), 0))
        for w in (self.album_title, self.artist, self.info):
            text.addWidget(w)
        text.addWidget(self.play_button, 0, Qt.AlignmentFlag.AlignLeft)
        head.addSpacing(12)
        head.addLayout(text, 1)
        layout.addLayout(head)
        layout.addWidget(table, 1)

    def show_album(self, album: AlbumRow) -> None:
        """Show one album's tracks."""
        self._album = album
        self.album_title.setText(album.title)
        self.artist.setText(album.artist or "Unknown artist")
        year = f"{album.year} · " if album.year else ""
        self.info.setText(f"{year}{album.track_count} tracks · "
                          f"{format_duration(album.duration_s)}")
        self.cover.setPixmap(placeholder_cover(f"{album.artist}\x00{album.title}").pixmap(COVER))
        path = album.thumb_path or album.image_path
        if album.cover_hash and path:
            self._loader.request(album.cover_hash, album.image_path or path)
        self.table.track_model().set_filter(
            TrackFilter(album=album.title, album_artist=album.artist))
        self.table.sortByColumn(self.table.track_model().column_of("track"),
                                Qt.SortOrder.AscendingOrder)

    def _on_loader_loaded(self, key: str, image: QImage) -> None:
        if self._album is not None and key == self._album.cover_hash:
            self.cover.setPixmap(rounded(image, COVER))


class NamesPage(QWidget):
    """Artists or genres: a list on the left filtering the songs on the right."""

    def __init__(self, kind: str, queries: QueryRunner, table: TrackTableView,
                 settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._kind = kind  # "artist" | "genre"
        self._queries = queries
        self.table = table
        self.names = NameListModel(self)
        self.list = QListView()
        self.list.setObjectName(f"{kind}List")
        self.list.setModel(self.names)
        self.list.setUniformItemSizes(True)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.selectionModel().currentChanged.connect(self._on_list_current_changed)
        self.splitter = QSplitter()
        self.splitter.setObjectName(f"{kind}Splitter")
        self.splitter.addWidget(self.list)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(8, 0, 0, 0)
        self.heading = title_label("")
        rl.addWidget(self.heading)
        rl.addWidget(table, 1)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([220, 700])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 0)
        layout.addWidget(self.splitter)
        state = settings.value(f"splitters/{kind}")
        if state is not None:
            self.splitter.restoreState(state)
        self.splitter.splitterMoved.connect(
            lambda *_: settings.setValue(f"splitters/{kind}", self.splitter.saveState()))

    def refresh(self) -> None:
        """Re-read the names in a worker, keeping the selection when it still exists."""
        query = browse.artists if self._kind == "artist" else browse.genres
        self._queries.run(self._kind, query, self.set_items)  # type: ignore[arg-type]

    def set_items(self, items: list[browse.NameCount]) -> None:
        """Show names, keeping the selection when it still exists."""
        current = self.list.currentIndex().data(NAME_ROLE)
        self.names.set_items(items)
        names = [i.name for i in items]
        if current in names:
            self.list.setCurrentIndex(self.names.index(names.index(current)))
        elif names and not self.list.currentIndex().isValid():
            self.list.setCurrentIndex(self.names.index(0))

    def select_name(self, name: str) -> None:
        """Select a name (case-insensitive) in the list."""
        for row in range(self.names.rowCount()):
            if str(self.names.index(row).data(NAME_ROLE)).casefold() == name.casefold():
                self.list.setCurrentIndex(self.names.index(row))
                return

    def _on_list_current_changed(self, current: object, _prev: object) -> None:
        name = self.list.currentIndex().data(NAME_ROLE)
        if name is None:
            return
        self.heading.setText(str(name))
        flt = TrackFilter(artist=name) if self._kind == "artist" else TrackFilter(genre=name)
        self.table.track_model().set_filter(flt)


class HistoryPage(QWidget):
    """The most recent plays, newest first."""

    play_requested = Signal(list, int)

    def __init__(self, conn: sqlite3.Connection, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._conn = conn
        self.model = HistoryModel(self)
        self.view = QTableView()
        self.view.setObjectName("historyTable")
        self.view.setModel(self.model)
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setDefaultAlignment(
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.setShowGrid(False)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setWordWrap(False)
        for col, width in enumerate((120, 240, 180, 180, 60, 80, 80)):
            self.view.setColumnWidth(col, width)
        self.view.doubleClicked.connect(self._on_view_double_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 0)
        layout.addWidget(title_label("History"))
        layout.addWidget(self.view, 1)

    def refresh(self) -> None:
        """Re-read the plays."""
        self.model.set_rows(browse.history(self._conn))

    def _on_view_double_clicked(self, index: object) -> None:
        row = self.view.currentIndex().row()
        tid = self.model.track_id(row)
        if tid is not None:
            self.play_requested.emit([tid], 0)


def separator() -> QFrame:
    """Return a thin horizontal line."""
    line = QFrame()
    line.setFrameShape(QFrame.Shape.HLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line


def cover_pixmap(path: str | None, size: QSize) -> QPixmap | None:
    """Return a small cover read from the cache (thumbnails only: a few KB, quick)."""
    if not path:
        return None
    image = QImage(path)
    return None if image.isNull() else rounded(image, size, 6)



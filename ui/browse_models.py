"""Small models over browse results: artist and genre names, the album grid with its
covers, and the play history.

These lists are short (a few thousand rows at most), so each holds all its rows; the
album grid asks for covers through a signal and never reads a file itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QAbstractListModel, QAbstractTableModel, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QIcon

from player import browse
from player.models import TrackId
from ui.models import (
    NAME_ROLE,
    SORT_ROLE,
    TRACK_ID_ROLE,
    Index,
    format_duration,
    format_when,
    plain_tooltip,
)

_ROOT = QModelIndex()


class NameListModel(QAbstractListModel):
    """A short list of names with counts (artists, genres); the name is in NAME_ROLE."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._items: list[browse.NameCount] = []

    def set_items(self, items: Sequence[browse.NameCount]) -> None:
        """Replace the list."""
        self.beginResetModel()
        self._items = list(items)
        self.endResetModel()

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{item.name}  ({item.track_count})"
        if role in (NAME_ROLE, SORT_ROLE):
            return item.name
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tooltip(item.name)
        return None


class AlbumListModel(QAbstractListModel):
    """The album grid: title and artist as text, the cover thumbnail as decoration.

    Covers are not read here: request_cover(row) is emitted for a row without one, a
    loader thread reads the file, and set_cover() stores the result and redraws the row.
    """

    cover_wanted = Signal(str, str)  # key, image path

    def __init__(self, placeholder: Callable[[browse.AlbumRow], QIcon],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._albums: list[browse.AlbumRow] = []
        self._covers: dict[str, QIcon] = {}
        self._requested: set[str] = set()
        self._placeholder = placeholder

    def set_albums(self, albums: Sequence[browse.AlbumRow]) -> None:
        """Replace the albums (covers already loaded are kept)."""
        self.beginResetModel()
        self._albums = list(albums)
        self.endResetModel()

    def album(self, row: int) -> browse.AlbumRow | None:
        """Return the album at a row."""
        return self._albums[row] if 0 <= row < len(self._albums) else None

    def set_cover(self, key: str, icon: QIcon) -> None:
        """Store a loaded cover and redraw the albums that use it."""
        self._covers[key] = icon
        for n, a in enumerate(self._albums):
            if a.cover_hash == key:
                i = self.index(n, 0)
                self.dataChanged.emit(i, i, [Qt.ItemDataRole.DecorationRole])

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._albums)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._albums):
            return None
        a = self._albums[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{a.title}\n{a.artist or 'Unknown artist'}"
        if role in (NAME_ROLE, SORT_ROLE):
            return a.title
        if role == Qt.ItemDataRole.ToolTipRole:
            year = f" ({a.year})" if a.year else ""
            return plain_tooltip(
                f"{a.title}{year}\n{a.artist or 'Unknown artist'}\n"
                f"{a.track_count} tracks, {format_duration(a.duration_s)}"
            )
        if role == Qt.ItemDataRole.DecorationRole:
            if a.cover_hash and a.cover_hash in self._covers:
                return self._covers[a.cover_hash]
            path = a.thumb_path or a.image_path
            if a.cover_hash and path and a.cover_hash not in self._requested:
                self._requested.add(a.cover_hash)
                self.cover_wanted.emit(a.cover_hash, path)
            return self._placeholder(a)
        return None


class HistoryModel(QAbstractTableModel):
    """Recent plays, newest first: when, title, artist, how it ended, from where."""

    HEADERS = ("When", "Title", "Artist", "Album", "Heard", "Ended", "From")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[browse.HistoryRow] = []

    def set_rows(self, rows: Sequence[browse.HistoryRow]) -> None:
        """Replace the plays shown."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def track_id(self, row: int) -> TrackId | None:
        """Return the track of a play (None when the file is gone)."""
        return self._rows[row].track_id if 0 <= row < len(self._rows) else None

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(self.HEADERS)):
            return self.HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        p = self._rows[index.row()]
        if role == TRACK_ID_ROLE:
            return None if p.track_id is None else int(p.track_id)
        values = (
            format_when(p.started_at), p.title or "", p.artist or "", p.album or "",
            format_duration(p.heard_ms / 1000), p.end_reason or "", p.source or "",
        )
        if role == Qt.ItemDataRole.DisplayRole and 0 <= index.column() < len(values):
            return values[index.column()]
        if role == SORT_ROLE and 0 <= index.column() < len(values):
            return p.started_at if index.column() == 0 else values[index.column()]
        return None

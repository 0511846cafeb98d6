"""A table of tracks: user-chosen columns, sorting in SQL, a context menu, double-click plays."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QPoint, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QContextMenuEvent, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QMenu,
    QTableView,
    QWidget,
)

from player.models import TrackId
from ui.models import COLUMN_KEYS, DEFAULT_VISIBLE, TRACK_ID_ROLE, TrackTableModel

# Default widths (px) by column key; the user's own widths are restored from settings.
WIDTHS = {"title": 240, "artist": 170, "album": 180, "albumartist": 160, "track": 40,
          "genre": 110, "year": 55, "duration": 60, "play_count": 55, "last_played": 110,
          "bpm": 50, "energy": 60, "key": 80, "liked": 30, "added": 100, "format": 110,
          "path": 300}


class TrackTableView(QTableView):
    """Shows a TrackTableModel; emits what the user wants done with which tracks.

    `play_requested(ids, row)`: play these ids from that row (double-click, Enter).
    `menu_requested(ids, pos)`: the context menu for the selected ids at a global pos.
    """

    play_requested = Signal(list, int)
    menu_requested = Signal(list, QPoint)

    def __init__(self, model: TrackTableModel, settings_key: str, settings: QSettings,
                 parent: QWidget | None = None, *, sortable: bool = True,
                 visible: tuple[str, ...] = DEFAULT_VISIBLE) -> None:
        super().__init__(parent)
        self._settings = settings
        self._settings_key = settings_key
        self.setModel(model)
        self.setObjectName(settings_key)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalHeader().hide()
        # Fixed row heights: the view never asks every row for its size hint, which
        # would read all 100,000 rows from the database.
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.horizontalHeader()
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._on_header_menu)
        for col in range(model.columnCount()):
            key = model.column_key(col)
            self.setColumnWidth(col, WIDTHS.get(key, 320 if key == "why" else 100))
            if key != "why" and key not in visible:
                self.setColumnHidden(col, True)
        if model.column_of("title") >= 0 and sortable:
            header.setSortIndicator(model.column_of("artist"), Qt.SortOrder.AscendingOrder)
        self.setSortingEnabled(sortable)
        state = settings.value(f"columns/{settings_key}")
        # restored: the user's own columns came back; a page lays out its defaults only
        # when this is False (moved or resized again, they would undo the user's).
        self.restored = bool(isinstance(state, QByteArray) and not state.isEmpty()
                             and header.restoreState(state))
        header.sectionResized.connect(self._save_columns)
        header.sectionMoved.connect(self._save_columns)
        header.sortIndicatorChanged.connect(self._save_columns)
        if sortable:
            model.own_order_shown.connect(self._clear_sort_indicator)
        self.doubleClicked.connect(lambda index: self._emit_play(index.row()))

    def track_model(self) -> TrackTableModel:
        """Return the model (typed)."""
        model = self.model()
        assert isinstance(model, TrackTableModel)
        return model

    def selected_ids(self) -> list[TrackId]:
        """Return the selected tracks in row order."""
        rows = sorted({i.row() for i in self.selectionModel().selectedRows()})
        model = self.track_model()
        return [tid for r in rows if (tid := model.track_id(r)) is not None]

    def _emit_play(self, row: int) -> None:
        if row >= 0:
            self.play_requested.emit(self.track_model().track_ids(), row)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self._emit_play(self.currentIndex().row())
            return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        index = self.indexAt(event.pos())
        if not index.isValid():
            return
        if not self.selectionModel().isRowSelected(index.row(), index.parent()):
            self.selectRow(index.row())
        ids = self.selected_ids() or [TrackId(int(index.data(TRACK_ID_ROLE)))]
        self.menu_requested.emit(ids, event.globalPos())

    def _on_header_menu(self, pos: QPoint) -> None:
        """Let the user choose the columns."""
        model = self.track_model()
        menu = QMenu(self)
        for col in range(model.columnCount()):
            key = model.column_key(col)
            if key not in COLUMN_KEYS:
                continue
            header = model.headerData(col, Qt.Orientation.Horizontal)
            action = QAction("Liked" if key == "liked" else str(header), menu)
            action.setCheckable(True)
            action.setChecked(not self.isColumnHidden(col))
            action.toggled.connect(lambda on, c=col: self._set_column_visible(c, on))
            menu.addAction(action)
        menu.exec(self.horizontalHeader().mapToGlobal(pos))

    def _set_column_visible(self, col: int, on: bool) -> None:
        self.setColumnHidden(col, not on)
        self._save_columns()

    def _clear_sort_indicator(self) -> None:
        """A list shown in its own order is sorted by no column: no arrow on a header."""
        self.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)

    def _save_columns(self, *_: object) -> None:
        self._settings.setValue(f"columns/{self._settings_key}",
                                self.horizontalHeader().saveState())

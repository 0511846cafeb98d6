"""For you: the recommended queue with each pick's reason, a refresh, adventurousness,
and "not this" / "less like this" on every row."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QSlider,
    QStackedLayout,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from player import browse
from player.models import TrackId
from ui.models import COLUMNS, Column, TrackTableModel
from ui.views.icons import icon
from ui.views.pages import plain_label, title_label
from ui.views.track_view import TrackTableView

ACTIONS = Column("actions", "", lambda r: "", lambda r: None)  # holds the row's buttons
# Moods the engine can read from the analysed descriptors (recommender.foryou.MOOD_RULES).
START_MOODS = ("calm", "energetic", "upbeat", "melancholic", "dance")
START_GENRES = 8  # the library's most common genres offered at a cold start

FOR_YOU_COLUMNS = (*(c for c in COLUMNS if c.key in ("title", "artist", "album", "duration",
                                                     "play_count")), ACTIONS)


class ForYouPage(QWidget):
    """Shows picks (anything with .track_id and .why); asks for new ones via signals.

    `refresh_requested(n, adventurousness, likes)`: the window computes picks in a worker
    and calls set_picks(); likes ("genre:Jazz", "mood:calm") are what the user picked on
    the cold-start bar, which shows while there is no listening history to go on.
    `not_this(ids)` / `less_like_this(ids)`: feedback for a row.
    """

    refresh_requested = Signal(int, float, list)
    not_this = Signal(list)
    less_like_this = Signal(list)

    COUNT = 30

    def __init__(self, conn: sqlite3.Connection, settings: QSettings,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._conn = conn
        self.likes: list[str] = [str(x) for x in (settings.value("foryou/likes") or [])
                                 if isinstance(x, str)]
        self.model = TrackTableModel(conn, self, columns=FOR_YOU_COLUMNS, extra_header="Why")
        self.table = TrackTableView(self.model, "foryou", settings, sortable=False,
                                    visible=("title", "artist", "duration", "actions"))
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(self.model.columnCount() - 1,
                                    QHeaderView.ResizeMode.Stretch)
        if not self.table.restored:
            # The reason is what this page is about: show it right after who and what.
            header.moveSection(header.visualIndex(self.model.columnCount() - 1), 2)
            header.moveSection(header.visualIndex(self.model.column_of("actions")), 0)
            for key, width in (("title", 200), ("artist", 150), ("album", 150),
                               ("play_count", 50)):
                self.table.setColumnWidth(self.model.column_of(key), width)
            self.table.setColumnWidth(self.model.column_of("actions"), 64)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 0)
        head = QHBoxLayout()
        head.addWidget(title_label("For you"))
        head.addSpacing(12)
        self.status = plain_label(object_name="subtitle")
        head.addWidget(self.status, 0, Qt.AlignmentFlag.AlignBottom)
        head.addStretch(1)
        head.addWidget(plain_label("Familiar"))
        self.adventure = QSlider(Qt.Orientation.Horizontal)
        self.adventure.setObjectName("adventurousness")
        self.adventure.setRange(0, 100)
        self.adventure.setFixedWidth(140)
        self.adventure.setValue(int(settings.value("foryou/adventurousness", 30)))
        self.adventure.setToolTip("Adventurousness: how much of the queue is new to you")
        self.adventure.sliderReleased.connect(self._on_adventure_released)
        head.addWidget(self.adventure)
        head.addWidget(plain_label("New"))
        head.addSpacing(12)
        self.refresh_button = QPushButton(icon("refresh"), "Refresh")
        self.refresh_button.clicked.connect(self.request_refresh)
        head.addWidget(self.refresh_button)
        self.play_button = QPushButton(icon("play"), "Play")
        self.play_button.setObjectName("primary")
        self.play_button.clicked.connect(
            lambda: self.table.play_requested.emit(self.model.track_ids(), 0))
        head.addWidget(self.play_button)
        layout.addLayout(head)
        self.start_bar = QWidget()
        self._start_row = QHBoxLayout(self.start_bar)
        self._start_row.setContentsMargins(0, 0, 0, 6)
        self.start_bar.hide()
        layout.addWidget(self.start_bar)
        self._stack = QStackedLayout()
        self.empty = plain_label("")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setObjectName("emptyNote")
        holder = QWidget()
        QVBoxLayout(holder).addWidget(self.empty)
        self._stack.addWidget(self.table)
        self._stack.addWidget(holder)
        layout.addLayout(self._stack, 1)
        self.set_empty_note("Recommendations appear here once your library is analysed.")

    def adventurousness(self) -> float:
        """Return the setting as 0..1."""
        return self.adventure.value() / 100

    def request_refresh(self) -> None:
        """Ask for a fresh set of picks."""
        self.status.setText("Finding music for you…")
        if self._stack.currentIndex() == 1:  # no picks shown: say it is on its way
            self.empty.setText("Finding music for you…")
        self.refresh_button.setEnabled(False)
        self.refresh_requested.emit(self.COUNT, self.adventurousness(), list(self.likes))

    def set_picks(self, picks: Sequence[object]) -> None:
        """Show picks (objects with .track_id and .why), each with its row buttons."""
        self.refresh_button.setEnabled(True)
        ids = [TrackId(int(p.track_id)) for p in picks]  # type: ignore[attr-defined]
        reasons = {TrackId(int(p.track_id)): str(p.why) for p in picks}  # type: ignore[attr-defined]
        self.model.set_ids(ids, reasons)
        self.status.setText(f"{len(ids)} pick{'' if len(ids) == 1 else 's'}" if ids else "")
        cold = bool(picks) and all(getattr(p, "kind", "") == "start" for p in picks)
        if cold:
            self._fill_start_bar()
        self.start_bar.setVisible(cold)
        if not ids:
            self.set_empty_note("Nothing to recommend yet: add music, or wait for the analysis "
                                "to finish.")
            return
        self._stack.setCurrentIndex(0)
        self._add_row_buttons()

    def _fill_start_bar(self) -> None:
        """Offer the library's main genres and a few moods as toggles (a cold start)."""
        while self._start_row.count():
            item = self._start_row.takeAt(0)
            if item is not None and item.widget() is not None:
                item.widget().deleteLater()
        self._start_row.addWidget(plain_label("New here? Pick what you like:"))
        genres = [g.name for g in sorted(browse.genres(self._conn), key=lambda g: -g.track_count)]
        options = [f"genre:{g}" for g in genres[:START_GENRES]] + \
            [f"mood:{m}" for m in START_MOODS]
        for spec in options:
            button = QPushButton(spec.split(":", 1)[1])  # plain text: tags are untrusted
            button.setCheckable(True)
            button.setChecked(spec in self.likes)
            button.setProperty("like", spec)
            button.toggled.connect(lambda on, s=spec: self._on_like_toggled(s, on))
            self._start_row.addWidget(button)
        self._start_row.addStretch(1)

    def _on_like_toggled(self, spec: str, on: bool) -> None:
        if on and spec not in self.likes:
            self.likes.append(spec)
        elif not on and spec in self.likes:
            self.likes.remove(spec)
        self._settings.setValue("foryou/likes", self.likes)
        self.request_refresh()

    def set_error(self, text: str) -> None:
        """Show why picks could not be made."""
        self.refresh_button.setEnabled(True)
        self.status.setText("")
        self.set_empty_note(text)

    def set_empty_note(self, text: str) -> None:
        """Show a note instead of the table."""
        self.empty.setText(text)
        self._stack.setCurrentIndex(1)

    def _add_row_buttons(self) -> None:
        # A short list (about 30 rows), so one small widget per row is cheap, and the
        # buttons are right there on each pick rather than hidden in a menu.
        col = self.model.column_of("actions")
        for row in range(self.model.rowCount()):
            tid = self.model.track_id(row)
            if tid is None:
                continue
            box = QWidget()
            box.setObjectName("rowButtons")
            lay = QHBoxLayout(box)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.setSpacing(2)
            for name, tip, signal in (("not-this", "Not this", self.not_this),
                                      ("thumb-down", "Less like this", self.less_like_this)):
                b = QToolButton()
                b.setIcon(icon(name))
                b.setAutoRaise(True)
                b.setToolTip(tip)
                b.setObjectName(name)
                b.clicked.connect(lambda _=False, t=tid, s=signal: s.emit([t]))
                lay.addWidget(b)
            self.table.setIndexWidget(self.model.index(row, col), box)

    def _on_adventure_released(self) -> None:
        self._settings.setValue("foryou/adventurousness", self.adventure.value())
        self.request_refresh()


"""The song table model (a windowed cache over TrackIds), its columns, and the roles and
cell formatting every item model shares.

The song model holds only the ordered list of ids (a few bytes per track); rows are
fetched from the database a page at a time when the view asks for them, and only a
bounded number of pages stay cached, so 100,000 tracks scroll smoothly in little memory.
The play queue's model is in ui/queue_model.py; the albums, names and history models in
ui/browse_models.py.
"""

from __future__ import annotations

import html
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QFont

from player import browse
from player.browse import TrackFilter, TrackRow
from player.models import TrackId

TRACK_ID_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2  # the raw value of a cell (number, text, None)
REASON_ROLE = Qt.ItemDataRole.UserRole + 3  # why the recommender picked this track
NAME_ROLE = Qt.ItemDataRole.UserRole + 4  # an artist / genre / album name, untouched

Index = QModelIndex | QPersistentModelIndex
# run(key, query(conn) -> result, apply(result)): QueryRunner.run, a worker per query
QueryRun = Callable[[str, Callable[[sqlite3.Connection], object], Callable[[object], None]], None]
_ROOT = QModelIndex()

# Roles and flags as plain ints: data() runs for every visible cell and role on each
# paint, and comparing ints is much cheaper than comparing Qt enum members in Python.
def _int(x: object) -> int:
    return int(getattr(x, "value", x))  # type: ignore[call-overload]


_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_FONT = int(Qt.ItemDataRole.FontRole.value)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole.value)
_TRACK_ID = _int(TRACK_ID_ROLE)
_SORT = _int(SORT_ROLE)
_REASON = _int(REASON_ROLE)
_ANSWERED = frozenset((_DISPLAY, _TOOLTIP, _FONT, _ALIGN, _TRACK_ID, _SORT, _REASON))
_RIGHT = int((Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value)
_ROW_FLAGS = (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
              | Qt.ItemFlag.ItemNeverHasChildren)


def format_duration(seconds: float | None) -> str:
    """Return 3:07 or 1:02:03; empty for an unknown duration."""
    if seconds is None:
        return ""
    s = max(0, round(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def format_when(ts: float | None, now: float | None = None) -> str:
    """Return a short human time: 'today 14:02', 'yesterday 23:05', 'Tue 09:30' (within a
    week), '2025-03-01'. The time of day stays while the day is near: the history lists
    several plays a day."""
    if ts is None:
        return ""
    now = time.time() if now is None else now
    local = time.localtime(ts)
    days = int((time.mktime(time.localtime(now)[:3] + (0, 0, 0, 0, 0, -1)) - ts) // 86400) + 1
    if days <= 0:
        return time.strftime("today %H:%M", local)
    if days == 1:
        return time.strftime("yesterday %H:%M", local)
    if days < 7:
        return time.strftime("%a %H:%M", local)
    return time.strftime("%Y-%m-%d", local)


def plain_tooltip(text: str) -> str:
    """Return a tooltip that shows text literally.

    Qt guesses whether a tooltip is rich text; wrapping escaped text in <qt> forces rich
    mode with nothing left to interpret, so a tag like "<b>x</b>" shows as typed.
    """
    return "<qt>" + html.escape(text).replace("\n", "<br>") + "</qt>"


@dataclass(frozen=True, slots=True)
class Column:
    """One song-table column: its key (also the browse sort key), header and cell text."""

    key: str
    header: str
    text: Callable[[TrackRow], str]
    raw: Callable[[TrackRow], object]
    numeric: bool = False
    sort: str | None = None  # browse sort key; None: not sortable in SQL


def _key_name(r: TrackRow) -> str:
    if not r.key:
        return ""
    return f"{r.key} {'minor' if r.mode == 'minor' else 'major'}" if r.mode else r.key


COLUMNS: tuple[Column, ...] = (
    Column("title", "Title", lambda r: r.title, lambda r: r.title, sort="title"),
    Column("artist", "Artist", lambda r: r.artist or "", lambda r: r.artist, sort="artist"),
    Column("album", "Album", lambda r: r.album or "", lambda r: r.album, sort="album"),
    Column("albumartist", "Album artist", lambda r: r.albumartist or "",
           lambda r: r.albumartist, sort="albumartist"),
    Column("track", "#", lambda r: str(r.tracknumber or ""), lambda r: r.tracknumber,
           numeric=True, sort="track"),
    Column("genre", "Genre", lambda r: r.genre or "", lambda r: r.genre, sort="genre"),
    Column("year", "Year", lambda r: str(r.year or ""), lambda r: r.year, numeric=True,
           sort="year"),
    Column("duration", "Time", lambda r: format_duration(r.duration_s),
           lambda r: r.duration_s, numeric=True, sort="duration"),
    Column("play_count", "Plays", lambda r: str(r.play_count or ""), lambda r: r.play_count,
           numeric=True, sort="play_count"),
    Column("last_played", "Last played", lambda r: format_when(r.last_played),
           lambda r: r.last_played, sort="last_played"),
    Column("bpm", "BPM", lambda r: f"{r.bpm:.0f}" if r.bpm else "", lambda r: r.bpm,
           numeric=True, sort="bpm"),
    Column("energy", "Energy", lambda r: f"{r.energy * 100:.0f}%" if r.energy is not None
           else "", lambda r: r.energy, numeric=True, sort="energy"),
    Column("key", "Key", _key_name, _key_name, sort="key"),
    Column("liked", "♥", lambda r: "♥" if r.liked else "", lambda r: r.liked, sort="liked"),
    Column("added", "Added", lambda r: format_when(r.added_at), lambda r: r.added_at,
           sort="added"),
    Column("format", "Format", lambda r: " ".join(
        x for x in ((r.codec or "").upper(),
                    f"{r.bitrate // 1000} kb/s" if r.bitrate else "") if x),
           lambda r: r.codec, sort="format"),
    Column("path", "File", lambda r: r.path, lambda r: r.path, sort="path"),
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)
DEFAULT_VISIBLE = ("title", "artist", "album", "duration", "play_count", "bpm", "energy")


class TrackTableModel(QAbstractTableModel):
    """The song table: ordered TrackIds, rows fetched from SQLite by page on demand.

    Two modes: a query (a TrackFilter plus a sort key, re-run by sort() and refresh()),
    or a fixed list of ids in a given order (search results, the queue, For you picks),
    which sort() can still reorder through SQL.
    """

    PAGE_ROWS = 100
    MAX_PAGES = 128  # at most 12,800 rows cached

    own_order_shown = Signal()
    """set_ids() showed a list in its own order (a folder's paths, a playlist's, search
    rank): no column orders it until the user clicks one."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        parent: QObject | None = None,
        *,
        columns: Sequence[Column] = COLUMNS,
        extra_header: str | None = None,
        run_query: QueryRun | None = None,
    ) -> None:
        """Args:
            run_query: runs a query off the GUI thread (QueryRunner.run); without one,
                sorting queries on the calling thread.
        """
        super().__init__(parent)
        self._conn = conn
        self._run_query = run_query
        self._columns = list(columns)
        self._extra_header = extra_header  # a last column for reasons (For you)
        self._ids: list[TrackId] = []
        self._filter = TrackFilter()
        self._fixed = False
        self._sort_key = "artist"
        self._descending = False
        self._pages: OrderedDict[int, dict[TrackId, TrackRow]] = OrderedDict()
        self._reasons: dict[TrackId, str] = {}
        self._current: TrackId | None = None
        self._n_columns = len(self._columns) + (1 if extra_header else 0)
        self._loaded = False  # nothing is queried until set_filter() or set_ids()
        self._bold = QFont()
        self._bold.setBold(True)

    # -- contents -----------------------------------------------------------------------

    def set_filter(self, flt: TrackFilter) -> None:
        """Show the tracks matching flt in the current sort order."""
        self._filter, self._fixed, self._loaded = flt, False, True
        self._reset(browse.track_ids(self._conn, flt, sort=self._sort_key,
                                     descending=self._descending))

    def set_ids(self, ids: Sequence[TrackId], reasons: dict[TrackId, str] | None = None) -> None:
        """Show exactly these tracks in this order (duplicates allowed: a queue)."""
        self._filter = TrackFilter(ids=tuple(ids))
        self._fixed = self._loaded = True
        self._reasons = dict(reasons or {})
        self._reset(list(ids))
        self.own_order_shown.emit()

    def query(self) -> tuple[TrackFilter, str, bool] | None:
        """Return (filter, sort key, descending) of a query model, None for a fixed list."""
        return None if self._fixed else (self._filter, self._sort_key, self._descending)

    def set_query_result(self, flt: TrackFilter, sort: str, descending: bool,
                         ids: list[TrackId]) -> None:
        """Show ids computed elsewhere (a worker) for this query, unless it changed since."""
        if self._loaded and (self._fixed or (flt, sort, descending) != (
                self._filter, self._sort_key, self._descending)):
            return  # the user moved on: the result is stale
        self._filter, self._sort_key, self._descending = flt, sort, descending
        self._fixed, self._loaded = False, True
        if ids == self._ids:
            self._redraw()
        else:
            self._reset(ids)

    def refresh(self) -> None:
        """Re-read the library: new tracks appear, changed rows redraw, order is kept."""
        if not self._loaded:
            return
        if self._fixed:
            ids = self._ids
        else:
            ids = browse.track_ids(self._conn, self._filter, sort=self._sort_key,
                                   descending=self._descending)
        if ids == self._ids:
            self._pages.clear()
            if self._ids:
                self.dataChanged.emit(
                    self.index(0, 0), self.index(len(self._ids) - 1, self.columnCount() - 1)
                )
            return
        self._reset(ids)

    def invalidate_rows(self) -> None:
        """Forget cached rows (stats or likes changed) and redraw, keeping the order."""
        self._redraw()

    def _redraw(self) -> None:
        self._pages.clear()
        if self._ids:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._ids) - 1, self.columnCount() - 1)
            )

    def _reset(self, ids: list[TrackId]) -> None:
        self.beginResetModel()
        self._ids = ids
        self._pages.clear()
        self.endResetModel()

    def set_current(self, track_id: TrackId | None) -> None:
        """Mark the playing track (drawn bold)."""
        old, self._current = self._current, track_id
        for tid in (old, track_id):
            if tid is None:
                continue
            for row in (i for i, x in enumerate(self._ids) if x == tid):
                self.dataChanged.emit(self.index(row, 0), self.index(row, self.columnCount() - 1),
                                      [Qt.ItemDataRole.FontRole])

    def track_ids(self) -> list[TrackId]:
        """Return the ids shown, in order."""
        return list(self._ids)

    def track_id(self, row: int) -> TrackId | None:
        """Return the id at a row."""
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def row_of(self, row: int) -> TrackRow | None:
        """Return the library row shown at a row (fetching its page if needed)."""
        return self._row(row)

    def column_key(self, column: int) -> str:
        """Return the key of a column ('why' for the reasons column)."""
        return self._columns[column].key if column < len(self._columns) else "why"

    def column_of(self, key: str) -> int:
        """Return the index of the column with this key, or -1."""
        keys = [c.key for c in self._columns]
        return keys.index(key) if key in keys else -1

    # -- Qt model -----------------------------------------------------------------------

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else self._n_columns

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < self.columnCount():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            if section == len(self._columns):
                return self._extra_header
            return self._columns[section].header
        if (role == Qt.ItemDataRole.TextAlignmentRole and section < len(self._columns)
                and self._columns[section].numeric):
            return _RIGHT
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return _ROW_FLAGS

    def data(self, index: Index, role: int = _DISPLAY) -> object:
        role = int(role)
        if role not in _ANSWERED or not index.isValid():
            return None
        row, col = index.row(), index.column()
        if not (0 <= row < len(self._ids) and 0 <= col < self._n_columns):
            return None
        tid = self._ids[row]
        if role == _TRACK_ID:
            return int(tid)
        if role == _REASON:
            return self._reasons.get(tid)
        if role == _FONT:
            return self._bold if tid == self._current else None
        if col == len(self._columns):  # the reasons column
            why = self._reasons.get(tid, "")
            if role == _TOOLTIP:
                return plain_tooltip(why) if why else None
            return why if role != _ALIGN else None
        column = self._columns[col]
        if role == _ALIGN:
            return _RIGHT if column.numeric else None
        r = self._row(row)
        if r is None:  # deleted since the ids were read
            return "" if role == _DISPLAY else None
        if role == _SORT:
            return column.raw(r)
        text = column.text(r)
        if role == _TOOLTIP:
            return plain_tooltip(text) if text else None
        return text

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if column < 0 or column >= len(self._columns) or self._columns[column].sort is None:
            return
        key = self._columns[column].sort or "title"
        descending = order == Qt.SortOrder.DescendingOrder
        if not self._loaded or (self._fixed and not self._ids):
            # Remember the order for the first query (a view calls sort() as soon as
            # sorting is enabled, before there is anything to show).
            self._sort_key, self._descending = key, descending
            return
        # From here on the query means the new order: a refresh or a worker's result
        # for the old one no longer applies.
        self._sort_key, self._descending = key, descending
        flt, fixed = self._filter, list(self._ids) if self._fixed else None

        def query(conn: sqlite3.Connection) -> list[TrackId]:
            return sorted_ids(conn, flt, fixed, key, descending)

        if self._run_query is None:
            self._apply_sorted(flt, fixed, key, descending, query(self._conn))
            return
        # Ordering 100,000 rows takes longer than a frame: a worker does it, and the
        # new order is swapped in when it comes (a newer click replaces this one).
        self._run_query(f"sort:{id(self)}", query, lambda ids: self._apply_sorted(
            flt, fixed, key, descending, ids))  # type: ignore[arg-type]

    def _apply_sorted(self, flt: TrackFilter, fixed: list[TrackId] | None, key: str,
                      descending: bool, ids: list[TrackId]) -> None:
        """Show the rows in a new order, keeping the selection and current row on their
        tracks; a result for a question the model has moved on from is dropped."""
        if (key, descending) != (self._sort_key, self._descending) or flt != self._filter:
            return
        if (fixed is None) == self._fixed or (fixed is not None and fixed != self._ids):
            return
        if len(ids) != len(self._ids):  # tracks came or went meanwhile
            self._reset(ids)
            return
        self.layoutAboutToBeChanged.emit()
        old_persistent = self.persistentIndexList()
        old_ids = [self._ids[i.row()] for i in old_persistent]
        self._ids = ids
        self._pages.clear()
        where = _positions(ids, set(old_ids))
        new_indexes = [
            self.index(where[tid], i.column()) if tid in where else QModelIndex()
            for tid, i in zip(old_ids, old_persistent, strict=True)
        ]
        self.changePersistentIndexList(old_persistent, new_indexes)
        self.layoutChanged.emit()

    # -- the windowed cache -------------------------------------------------------------

    def _row(self, row: int) -> TrackRow | None:
        page_no = row // self.PAGE_ROWS
        page = self._pages.get(page_no)
        if page is None:
            start = page_no * self.PAGE_ROWS
            page = browse.rows(self._conn, self._ids[start:start + self.PAGE_ROWS])
            self._pages[page_no] = page
            while len(self._pages) > self.MAX_PAGES:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page_no)
        return page.get(self._ids[row])

    def cached_pages(self) -> int:
        """Return how many pages of rows are cached (for the benchmark and tests)."""
        return len(self._pages)


def sorted_ids(conn: sqlite3.Connection, flt: TrackFilter, fixed: list[TrackId] | None,
               key: str, descending: bool) -> list[TrackId]:
    """Return a query's ids in a sort order, or a fixed list (duplicates kept) reordered."""
    if fixed is None:
        return browse.track_ids(conn, flt, sort=key, descending=descending)
    order = browse.track_ids(conn, TrackFilter(ids=tuple(set(fixed))), sort=key,
                             descending=descending)
    rank = {tid: n for n, tid in enumerate(order)}
    return sorted(fixed, key=lambda t: rank.get(t, len(rank)))


def _positions(ids: list[TrackId], wanted: set[TrackId]) -> dict[TrackId, int]:
    """Return the first row of each wanted id present in ids."""
    if len(wanted) <= 32:  # a selection or two: list.index runs in C
        out = {}
        for tid in wanted:
            try:
                out[tid] = ids.index(tid)
            except ValueError:
                pass
        return out
    positions: dict[TrackId, int] = {}
    for n, tid in enumerate(ids):
        if tid in wanted:
            positions.setdefault(tid, n)
    return positions

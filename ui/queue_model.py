"""The play queue's model: the song table over a fixed id list, whose rows are dragged to
a new place.

drop_moves() turns one drop of several rows into the single moves the playback queue
makes, so the queue stays the only owner of the order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from PySide6.QtCore import QByteArray, QMimeData, QModelIndex, Qt, Signal

from ui.models import REASON_ROLE, Index, TrackTableModel, plain_tooltip

QUEUE_MIME = "application/x-timbre-queue-rows"
_DISPLAY = int(Qt.ItemDataRole.DisplayRole.value)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole.value)
_REASON = int(getattr(REASON_ROLE, "value", REASON_ROLE))


def drop_moves(n: int, rows: Sequence[int], to_row: int) -> list[tuple[int, int]]:
    """Return the (src, dst) list.move() calls that put rows, in order, before to_row.

    A move is pop(src) then insert(dst), as PlayQueue.move() does; to_row >= n (or
    past the last row not dragged) means the end.
    """
    block = sorted(r for r in set(rows) if 0 <= r < n)
    anchor = next((i for i in range(max(to_row, 0), n) if i not in block), None)
    order = list(range(n))  # simulate the list to turn one drop into single moves
    moves: list[tuple[int, int]] = []
    previous: int | None = None
    for orig in block:
        src = order.index(orig)
        order.pop(src)
        if previous is not None:
            dst = order.index(previous) + 1
        else:
            dst = order.index(anchor) if anchor is not None else len(order)
        order.insert(dst, orig)
        if src != dst:
            moves.append((src, dst))
        previous = orig
    return moves


class QueueModel(TrackTableModel):
    """The play queue: a fixed id list whose rows can be dragged to a new place.

    A drop does not move rows itself: it emits move_requested(rows, to_row) and the
    playback queue, the single owner of the order, moves them and the model follows.
    """

    move_requested = Signal(list, int)

    def data(self, index: Index, role: int = _DISPLAY) -> object:
        if int(role) == _TOOLTIP and index.isValid():
            why = super().data(index, _REASON)
            if why:  # queued by a radio or For you: the cell, then why it was picked
                return plain_tooltip(f"{super().data(index, _DISPLAY)}\n{why}")
        return super().data(index, role)

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = super().flags(index)
        if index.isValid():
            return base | Qt.ItemFlag.ItemIsDragEnabled
        return Qt.ItemFlag.ItemIsDropEnabled

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [QUEUE_MIME]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        data = QMimeData()
        rows = sorted({i.row() for i in indexes if i.isValid()})
        data.setData(QUEUE_MIME, QByteArray(json.dumps(rows).encode()))
        return data

    def canDropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                        parent: Index) -> bool:
        return data.hasFormat(QUEUE_MIME) and action == Qt.DropAction.MoveAction

    def dropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                     parent: Index) -> bool:
        if not self.canDropMimeData(data, action, row, column, parent):
            return False
        rows = json.loads(bytes(data.data(QUEUE_MIME).data()).decode())
        to_row = row if row >= 0 else (parent.row() if parent.isValid() else self.rowCount())
        self.move_requested.emit([int(r) for r in rows], int(to_row))
        return False  # the queue moves the rows; Qt must not remove the dragged ones

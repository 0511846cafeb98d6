"""The Properties dialog: every tag, the file's details, the audio features, the stats, and
the auto-tagger's suggestions, each with Accept (written into the file) and Reject."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from player import browse
from player.browse import TrackDetail
from player.models import MIN_TEMPO_CONFIDENCE, TrackId
from ui.models import format_duration
from ui.views.pages import plain_label, title_label
from ui.workers import QueryRunner

if TYPE_CHECKING:
    from player.suggestions_store import Suggestion

_TIME_KEYS = {"added_at", "updated_at", "analyzed_at", "first_played", "last_played"}
_LABELS = {
    "albumartist": "album artist", "tracknumber": "track", "tracktotal": "tracks",
    "discnumber": "disc", "disctotal": "discs", "mb_recording_id": "MusicBrainz recording",
    "mb_release_id": "MusicBrainz release", "mb_artist_id": "MusicBrainz artist",
    "rg_track_gain": "ReplayGain track gain", "rg_track_peak": "ReplayGain track peak",
    "rg_album_gain": "ReplayGain album gain", "rg_album_peak": "ReplayGain album peak",
    "duration_s": "duration", "sample_rate": "sample rate", "mtime_ns": "modified",
    "cover_hash": "cover", "added_at": "added", "updated_at": "updated",
    "tempo_bpm": "tempo (BPM)", "tempo_confidence": "tempo confidence",
    "key_confidence": "key confidence", "loudness_db": "loudness (dB)",
    "dynamic_range_db": "dynamic range (dB)", "analyzed_at": "analysed",
    "play_count": "plays", "skip_count": "skips", "heard_ms": "time heard",
    "first_played": "first played", "last_played": "last played",
}


def _format(key: str, value: object) -> str:
    if value is None:
        return ""
    if key in _TIME_KEYS and isinstance(value, (int, float)):
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(value))
    if key == "mtime_ns" and isinstance(value, int):
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(value / 1e9))
    if key == "duration_s" and isinstance(value, (int, float)):
        return format_duration(value)
    if key == "heard_ms" and isinstance(value, (int, float)):
        return format_duration(value / 1000)
    if key == "size" and isinstance(value, int):
        return f"{value / 1e6:.1f} MB ({value:,} bytes)"
    if key == "bitrate" and isinstance(value, int):
        return f"{value // 1000} kb/s"
    if key in ("rg_track_gain", "rg_album_gain") and isinstance(value, float):
        return f"{value:+.2f} dB"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    if isinstance(value, bool) or key in ("missing", "compilation", "liked"):
        return "yes" if value else "no"
    return str(value)


def _table(values: dict[str, object]) -> QTableWidget:
    table = QTableWidget(len(values), 2)
    table.setHorizontalHeaderLabels(["Field", "Value"])
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(True)
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    for row, (key, value) in enumerate(values.items()):
        # QTableWidgetItem text is drawn as plain text: tags cannot inject markup here.
        table.setItem(row, 0, QTableWidgetItem(_LABELS.get(key, key)))
        table.setItem(row, 1, QTableWidgetItem(_format(key, value)))
    return table


class PropertiesDialog(QDialog):
    """Shows one track's details in tabs.

    Suggested tags come with Accept and Reject: the dialog only asks
    (`accept_requested(suggestion)`, `reject_requested(suggestion)`); the window does it
    and reports back with suggestion_done() or suggestion_failed().
    """

    accept_requested = Signal(object)  # a Suggestion
    reject_requested = Signal(object)

    def __init__(self, detail: TrackDetail, parent: QWidget | None = None, *,
                 suggestions: Sequence[Suggestion] = ()) -> None:
        super().__init__(parent)
        self.setWindowTitle("Properties")
        self.resize(560, 520)
        layout = QVBoxLayout(self)
        title = str(detail.tags.get("title", ""))
        heading = title_label(title)
        heading.setWordWrap(True)
        layout.addWidget(heading)
        layout.addWidget(plain_label(str(detail.tags.get("artist", ""))))
        tabs = QTabWidget()
        self.tags_table = _table(detail.tags)
        tabs.addTab(self.tags_table, "Tags")
        tabs.addTab(_table(detail.file), "File")
        if detail.features:
            features = dict(detail.features)
            confidence = features.get("tempo_confidence")
            if isinstance(confidence, float) and confidence < MIN_TEMPO_CONFIDENCE:
                # As everywhere else: the tempo of music without a steady beat is a guess.
                features["tempo_bpm"] = f"no steady beat (a guess: {features.get('tempo_bpm', 0):.3g})"
            tabs.addTab(_table(features), "Audio features")
        else:
            note = plain_label("Not analysed yet.")
            tabs.addTab(note, "Audio features")
        tabs.addTab(_table(detail.stats), "Listening")
        self.tabs = tabs
        self.suggestions_tab = self._suggestions_tab(suggestions)
        tabs.addTab(self.suggestions_tab, "")
        self._update_suggestions_title()
        layout.addWidget(tabs, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _update_suggestions_title(self) -> None:
        n = len(self._suggestions)
        self.tabs.setTabText(self.tabs.indexOf(self.suggestions_tab),
                             f"Suggested tags ({n})" if n else "Suggested tags")

    # -- suggested tags -----------------------------------------------------------------

    def _suggestions_tab(self, suggestions: Sequence[Suggestion]) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.suggestions_note = plain_label(
            "The auto-tagger's guesses for tags this track lacks, learned from the tracks "
            "that have them. Nothing is written into the file unless you accept it."
            if suggestions else
            "No suggestions. `timbre autotag` guesses genres and moods for untagged tracks.")
        self.suggestions_note.setWordWrap(True)
        layout.addWidget(self.suggestions_note)
        table = QTableWidget(0, 4)
        table.setObjectName("suggestions")
        table.setHorizontalHeaderLabels(["Field", "Suggested", "Confidence", ""])
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        table.setShowGrid(False)
        header = table.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        for col in (0, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.suggestions_table = table
        self._suggestions: list[Suggestion] = []
        for s in suggestions:
            self._add_suggestion(s)
        table.setVisible(bool(suggestions))
        layout.addWidget(table, 1)
        self.suggestions_status = plain_label(object_name="suggestionStatus")
        self.suggestions_status.setWordWrap(True)
        layout.addWidget(self.suggestions_status)
        return page

    def _add_suggestion(self, s: Suggestion) -> None:
        table = self.suggestions_table
        row = table.rowCount()
        table.insertRow(row)
        # QTableWidgetItem text is plain text: a suggested value cannot inject markup.
        table.setItem(row, 0, QTableWidgetItem(s.field))
        table.setItem(row, 1, QTableWidgetItem(s.value))
        confidence = QTableWidgetItem(f"{s.confidence:.0%}")
        confidence.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        table.setItem(row, 2, confidence)
        cell = QWidget()
        buttons = QHBoxLayout(cell)
        buttons.setContentsMargins(2, 0, 2, 0)
        accept = QPushButton("Accept")
        accept.setObjectName("accept")
        accept.setToolTip("Write this tag into the file")
        accept.clicked.connect(lambda: self._ask(s, accept=True))
        reject = QPushButton("Reject")
        reject.setObjectName("reject")
        reject.setToolTip("Forget this suggestion; the file is not touched")
        reject.clicked.connect(lambda: self._ask(s, accept=False))
        buttons.addWidget(accept)
        buttons.addWidget(reject)
        table.setCellWidget(row, 3, cell)
        table.resizeRowToContents(row)
        self._suggestions.append(s)

    def suggestion_buttons(self, s: Suggestion) -> tuple[QPushButton, QPushButton]:
        """Return the Accept and Reject buttons of a suggestion shown."""
        cell = self.suggestions_table.cellWidget(self._suggestions.index(s), 3)
        accept = cell.findChild(QPushButton, "accept")
        reject = cell.findChild(QPushButton, "reject")
        assert accept is not None and reject is not None
        return accept, reject

    def shown_suggestions(self) -> list[Suggestion]:
        """Return the suggestions listed, in order."""
        return list(self._suggestions)

    def _ask(self, s: Suggestion, *, accept: bool) -> None:
        self.suggestions_table.setEnabled(False)  # one file write at a time
        verb = "Writing" if accept else "Rejecting"
        self.suggestions_status.setText(f"{verb} {s.field} “{s.value}”…")
        (self.accept_requested if accept else self.reject_requested).emit(s)

    def suggestion_done(self, s: Suggestion, message: str,
                        tags: dict[str, object] | None = None) -> None:
        """Drop a suggestion that was accepted or rejected (with the accepted field's
        others, which no longer apply) and show what happened; tags: the track's tags
        as they are now."""
        for row in reversed(range(len(self._suggestions))):
            other = self._suggestions[row]
            if other == s or (tags is not None and other.field == s.field):
                self.suggestions_table.removeRow(row)
                del self._suggestions[row]
        self.suggestions_table.setEnabled(True)
        self.suggestions_table.setVisible(bool(self._suggestions))
        self.suggestions_status.setText(message)
        self._update_suggestions_title()
        if tags is not None:
            fresh = _table(tags)
            index = self.tabs.indexOf(self.tags_table)
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, fresh, "Tags")
            self.tags_table.deleteLater()
            self.tags_table = fresh

    def suggestion_failed(self, message: str) -> None:
        """Show why a suggestion could not be accepted; everything stays as it was."""
        self.suggestions_table.setEnabled(True)
        self.suggestions_status.setText(message)


def open_properties(parent: QWidget, conn: sqlite3.Connection, queries: QueryRunner,
                    track_id: TrackId, on_tags_changed: Callable[[], None]
                    ) -> PropertiesDialog | None:
    """Show the Properties dialog of a track, its suggested tags answered: an accepted
    tag is written into the file on a worker (a large file may be rewritten), then
    on_tags_changed() lets the views redraw."""
    from player import suggestions_store as store  # mutagen: loaded when first needed

    detail = browse.track_detail(conn, track_id)
    if detail is None:
        return None
    dialog = PropertiesDialog(detail, parent, suggestions=store.suggestions(conn, track_id))
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def accepted(s: Suggestion, outcome: object) -> None:
        if not shiboken6.isValid(dialog):
            return  # closed meanwhile: the file was written all the same
        ok, payload = outcome  # type: ignore[misc]
        if not ok:
            dialog.suggestion_failed(f"Not written: {payload}")
            return
        path, tags = payload
        dialog.suggestion_done(s, f"Wrote {s.field} “{s.value}” into {path}.", tags)
        on_tags_changed()

    def accept(s: Suggestion) -> None:
        queries.run(f"accept-tag:{id(dialog)}", lambda c: _accept(c, s),  # type: ignore[arg-type]
                    lambda outcome: accepted(s, outcome))

    def reject(s: Suggestion) -> None:
        store.reject_suggestion(conn, s.track_id, s.field, s.value)  # one row: instant
        dialog.suggestion_done(s, f"Rejected {s.field} “{s.value}”; the file is unchanged.")

    dialog.accept_requested.connect(accept)
    dialog.reject_requested.connect(reject)
    dialog.show()
    return dialog


def _accept(conn: sqlite3.Connection, s: Suggestion) -> tuple[bool, object]:
    """Write a suggestion into its file (on a worker); return (True, (path, tags now)) or
    (False, why)."""
    from player import suggestions_store as store

    try:
        path = store.accept_suggestion(conn, s.track_id, s.field, s.value)
    except store.SuggestionError as exc:
        return False, str(exc)
    detail = browse.track_detail(conn, s.track_id)
    return True, (str(path), detail.tags if detail is not None else {})

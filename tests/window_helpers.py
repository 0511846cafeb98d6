"""A real window for tests that need neither playback nor the background jobs."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication

from ui.app import apply_look, make_collaborators, make_settings
from ui.main_window import MainWindow


def quiet_window(qtbot, db_path: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                 with_playback: bool = False) -> MainWindow:
    """Open and show the window over db_path: no analysis, taste or mixes jobs to wait
    for, and no playback unless asked. The caller closes it."""
    apply_look(QApplication.instance())
    collab = make_collaborators(db_path, make_settings(tmp_path / "window.ini"),
                                with_playback=with_playback)
    collab.analyze = None
    w = MainWindow(collab)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w

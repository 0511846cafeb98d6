"""Timbre's entry point: a CLI command when one is given, else the window.

This is the one place that builds and wires everything: the database connection,
playback, the scanner, the analysis, the recommendation engine and the window. The
heavy ones (librosa, scikit-learn) are imported inside the jobs that use them, so the
window opens without waiting for them.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

APP_ID = "io.github.timbre.Timbre"
RESOURCES = Path(__file__).resolve().parents[1] / "resources"

log = logging.getLogger(__name__)

# Background jobs that import or compute much run in a child process
# (ui/views/child_jobs.py): on a thread of the window's process their Python and numpy
# work, and their imports (1.2 s of scipy for the analysis), hold the GIL, and the window
# stalls (bench/ui.py saw 0.8 s while the mixes of 100,000 tracks were made). These are
# the functions make_collaborators' analyze, learn_taste and make_mixes call, by name.
# Scans stay on a thread: they wait on their reader processes most of the time.
CHILD_JOBS = {"analyze": "recommender.analysis:analyze",
              "learn_taste": "recommender.cli_taste:train",
              "make_mixes": "recommender.cli_playlists_gen:refresh_mixes"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run `timbre`: the CLI command given, or the desktop window."""
    from ui.cli import parse, run_command

    args = parse(argv)
    if args.command is not None:
        return run_command(args)
    if args.install_desktop_entry:
        return install_desktop_entry()
    from player.paths import resolve_db_path

    problem = no_display_reason(os.environ, sys.platform)
    if problem:
        print(f"timbre: {problem}", file=sys.stderr)
        return 2
    return run_window(resolve_db_path(getattr(args, "db", None)))


def no_display_reason(env: Mapping[str, str], platform: str) -> str | None:
    """Say why the window cannot open here, or None.

    Without a display Qt aborts, blaming a missing xcb library and suggesting a
    reinstall: the wrong lead for someone logged in over ssh.
    """
    if not platform.startswith("linux") or env.get("QT_QPA_PLATFORM"):
        return None
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return ("no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset): "
            "start it from your desktop session, or use a command without a window "
            "(`timbre --help`; `timbre play` plays in the terminal)")


def xdg_music_dir() -> Path | None:
    """Return the user's music folder (XDG_MUSIC_DIR, else the platform's default)."""
    env = os.environ.get("XDG_MUSIC_DIR")
    if env:
        return Path(env).expanduser()
    try:
        import platformdirs

        return Path(platformdirs.user_music_dir())
    except (OSError, ValueError):  # platformdirs reads user-dirs.dirs: may be malformed
        return Path.home() / "Music"


def install_desktop_entry(data_home: Path | None = None) -> int:
    """Install the .desktop file and the icons into the XDG data dirs."""
    base = data_home or Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local/share")
    apps = base / "applications"
    apps.mkdir(parents=True, exist_ok=True)
    launcher = _launcher()
    text = (RESOURCES / f"{APP_ID}.desktop").read_text(encoding="utf-8")
    # The launcher may not be on PATH (a clone run with ./timbre): point at it by path.
    text = text.replace("Exec=timbre %U", f"Exec={_desktop_quote(launcher)} %U")
    text = text.replace("TryExec=timbre", f"TryExec={launcher}")
    desktop = apps / f"{APP_ID}.desktop"
    desktop.write_text(text, encoding="utf-8")
    icons = {
        base / "icons/hicolor/scalable/apps" / f"{APP_ID}.svg": RESOURCES / "timbre.svg",
        base / "icons/hicolor/256x256/apps" / f"{APP_ID}.png": RESOURCES / "timbre.png",
    }
    for dest, src in icons.items():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
    print(f"installed {desktop}")
    for dest in icons:
        print(f"installed {dest}")
    return 0


def _launcher() -> str:
    """Return the command that starts Timbre: the clone's ./timbre (it sets itself up),
    else `timbre` on PATH, else the console script next to this Python."""
    clone = RESOURCES.parent / "timbre"
    if clone.is_file() and os.access(clone, os.X_OK):
        return str(clone)
    found = shutil.which("timbre")
    if found:
        return found
    return str(Path(sys.executable).with_name("timbre"))


def _desktop_quote(path: str) -> str:
    """Quote an Exec argument per the Desktop Entry spec when it needs it."""
    if not any(c in path for c in ' \t\n"\'\\><~|&;$*?#()`'):
        return path
    escaped = path.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    return f'"{escaped}"'


def make_collaborators(db_path: Path, settings: Any, *, with_playback: bool = True) -> Any:
    """Open the library and build what the window works with (see Collaborators)."""
    from player.db import connect
    from player.paths import data_dir
    from player.scanner import scan
    from ui.main_window import Collaborators

    conn = connect(db_path)

    def analyze(db: Path, **kw: Any) -> Any:
        from recommender.analysis import analyze as run  # librosa: imported in the job

        return run(db, **kw)

    def make_engine() -> Any:  # runs in a job: the engine gets its own connection
        from recommender.cli_engine import build_engine

        return build_engine(connect(db_path), db_path)

    def playback() -> Any:
        from player.playback import PlaybackEngine

        engine = PlaybackEngine(conn)
        engine.restore()
        return engine

    def learn_taste(db: Path) -> Any:
        from recommender.cli_taste import train  # scikit-learn: imported in the job

        return train(db)

    def make_mixes(db: Path) -> Any:
        from recommender.cli_playlists_gen import refresh_mixes

        return refresh_mixes(db)

    def make_demo(dest: Path, **kw: Any) -> Path:
        from player import demo  # numpy and soundfile: imported when the user asks

        return demo.generate(dest, **kw)

    return Collaborators(
        conn=conn, db_path=db_path, settings=settings,
        playback=playback() if with_playback else None,
        scan=scan, analyze=analyze, make_engine=make_engine,
        make_demo=make_demo, learn_taste=learn_taste, make_mixes=make_mixes,
        demo_dir=data_dir() / "demo" if db_path == data_dir() / "library.db"
        else db_path.parent / "demo",
        music_dir=xdg_music_dir(), in_child=dict(CHILD_JOBS),
    )


def make_settings(path: Path | None = None) -> Any:
    """Return the window's QSettings (an INI file in the config dir)."""
    from PySide6.QtCore import QSettings

    from player.paths import config_dir

    path = path or config_dir() / "window.ini"
    path.parent.mkdir(parents=True, exist_ok=True)
    return QSettings(str(path), QSettings.Format.IniFormat)


def apply_look(app: Any) -> None:
    """Use the stylesheet, which takes its colours from the system palette (light or dark)."""
    qss = RESOURCES / "style.qss"
    if qss.exists():
        app.setStyleSheet(qss.read_text(encoding="utf-8"))


def start_mpris(playback: Any, window: Any) -> Any:
    """Publish the player on D-Bus (MPRIS2); None without a session bus."""
    from player.mpris import MprisService

    service = MprisService.start(playback, can_raise=True, parent=window)
    if service is not None:
        service.raise_requested.connect(window.showNormal)
        service.raise_requested.connect(window.raise_)
        service.raise_requested.connect(window.activateWindow)
        service.quit_requested.connect(window.close)
    return service


def run_window(db_path: Path) -> int:
    """Open the window on a library and run until it is closed."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    from player.db import DatabaseError
    from ui.main_window import MainWindow
    from ui.views.icons import app_icon

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "timbre"])
    app.setApplicationName("timbre")
    app.setApplicationDisplayName("Timbre")
    app.setOrganizationName("timbre")
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())
    apply_look(app)
    try:
        collaborators = make_collaborators(db_path, make_settings())
    except DatabaseError as exc:
        QMessageBox.critical(None, "Timbre", str(exc))
        return 2
    window = MainWindow(collaborators)
    mpris = start_mpris(collaborators.playback, window) if collaborators.playback else None
    window.show()
    code = app.exec()
    if mpris is not None:
        mpris.stop()
    return int(code)


if __name__ == "__main__":
    sys.exit(main())

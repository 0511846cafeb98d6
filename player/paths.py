"""Where Timbre keeps its files: XDG data, cache and config dirs, with overrides."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "timbre"
DB_ENV = "TIMBRE_DB"


def data_dir() -> Path:
    """Return the data dir (~/.local/share/timbre): the library, history and models."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Return the cache dir (~/.cache/timbre): cover art and thumbnails, safe to delete."""
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    """Return the config dir (~/.config/timbre): settings."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def default_db_path() -> Path:
    """Return the database path: TIMBRE_DB when set, else library.db in the data dir."""
    override = os.environ.get(DB_ENV)
    if override:
        return Path(override).expanduser()
    return data_dir() / "library.db"


def resolve_db_path(explicit: str | os.PathLike[str] | None) -> Path:
    """Return the database for a command: --db wins over TIMBRE_DB over the default."""
    if explicit:
        return Path(explicit).expanduser()
    return default_db_path()


def covers_dir(db_path: Path) -> Path:
    """Return the folder of cover art for one database.

    The default database keeps covers in the XDG cache dir; any other database (tests,
    --db) keeps them in a cache folder beside it, so two libraries never share covers.
    """
    if db_path == data_dir() / "library.db":
        return cache_dir() / "covers"
    return db_path.parent / f"{db_path.stem}.cache" / "covers"

"""Open the library database: WAL, migrations in one transaction, newer schemas refused."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from player.schema import MIGRATIONS, SCHEMA_VERSION

if TYPE_CHECKING:
    import sqlite_utils

BUSY_TIMEOUT_MS = 15_000


class DatabaseError(Exception):
    """The database cannot be used; the message says why, for the user."""


class DatabaseTooNew(DatabaseError):
    """The database was written by a newer Timbre; it is left untouched."""


def _read_version(path: Path) -> int:
    """Return the schema version of an existing file without changing it."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"{path} is not a Timbre database ({exc})") from exc


def connect(path: Path, *, migrate: bool = True) -> sqlite3.Connection:
    """Open (creating if needed) the database at path and bring its schema up to date.

    The connection is in autocommit mode: callers group writes with `transaction()`.
    Raises DatabaseTooNew, before any write, when the file's schema is newer than ours.
    """
    path = Path(path)
    if path.exists() and path.stat().st_size > 0:
        version = _read_version(path)
        if version > SCHEMA_VERSION:
            raise DatabaseTooNew(
                f"{path} has schema version {version}, but this Timbre only knows up to "
                f"{SCHEMA_VERSION}. Upgrade Timbre; the database was not modified."
            )
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    # NORMAL in WAL mode is consistent after a crash or kill; only the last commits can be
    # lost on a power cut, never the file's integrity.
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    if migrate:
        _migrate(conn)
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    """Apply the missing migrations, each with its version bump in one transaction."""
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:  # another process upgraded it meanwhile
                raise DatabaseTooNew(
                    f"schema version {version} is newer than this Timbre's {SCHEMA_VERSION}"
                )
            if version == SCHEMA_VERSION:
                conn.execute("COMMIT")
                return
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Group writes in one IMMEDIATE transaction; roll back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def schema_version(conn: sqlite3.Connection) -> int:
    """Return the schema version of an open database."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def utils_db(conn: sqlite3.Connection) -> sqlite_utils.Database:
    """Wrap a connection for sqlite-utils' queries and introspection.

    Not for bulk writes: sqlite-utils commits every batch, measured 6x slower than one
    transaction for 100,000 rows; use `transaction()` and executemany there.
    """
    import sqlite_utils  # 0.5 s to import: kept off the window's start-up path

    return sqlite_utils.Database(conn)

"""Shared pieces of the command line: the --db option, JSON output, a progress bar."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from player.db import connect
from player.paths import resolve_db_path


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """Accept --db PATH on a (sub)command; SUPPRESS keeps a value given before it."""
    parser.add_argument(
        "--db",
        default=argparse.SUPPRESS,
        metavar="PATH",
        help="the library database (default: $TIMBRE_DB, else the XDG data dir)",
    )


def positive_int(text: str) -> int:
    """Parse a count of at least 1 (an argparse type)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def positive_float(text: str) -> float:
    """Parse a number of seconds above 0 (an argparse type)."""
    value = float(text)
    if not value > 0:  # also rejects nan
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def float_between(low: float, high: float) -> Callable[[str], float]:
    """Return an argparse type for a number from low to high."""
    def parse(text: str) -> float:
        value = float(text)
        if not low <= value <= high:  # also rejects nan
            raise argparse.ArgumentTypeError(f"must be from {low:g} to {high:g}, not {text}")
        return value

    return parse


def db_path(args: argparse.Namespace) -> Path:
    """Return the database path a command should use."""
    return resolve_db_path(getattr(args, "db", None))


def open_db(args: argparse.Namespace) -> sqlite3.Connection:
    """Open (and migrate) the command's database."""
    return connect(db_path(args))


def print_json(value: Any, out: TextIO | None = None) -> None:
    """Print one JSON document on stdout (and nothing else there)."""
    stream = out or sys.stdout
    json.dump(value, stream, ensure_ascii=False, indent=None, default=str)
    stream.write("\n")
    stream.flush()


def format_duration(seconds: float) -> str:
    """Return 1:05 or 1:02:03 for a number of seconds."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TerminalProgress:
    """A progress bar on stderr (done/total, rate, ETA), drawn only on a terminal.

    Call it as progress(done, total); call close() at the end.
    """

    def __init__(self, label: str, unit: str = "files", stream: TextIO | None = None) -> None:
        self._label = label
        self._unit = unit
        self._stream = stream or sys.stderr
        self._enabled = self._stream.isatty()
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        if now - self._last_draw < 0.1 and done < total:
            return
        self._last_draw = now
        elapsed = max(now - self._start, 1e-9)
        rate = done / elapsed
        eta = (total - done) / rate if rate > 0 and total >= done else 0.0
        width = 30
        filled = int(width * done / total) if total else width
        bar = "#" * filled + "-" * (width - filled)
        self._stream.write(
            f"\r{self._label} [{bar}] {done}/{total} {self._unit}  "
            f"{rate:,.0f}/s  ETA {format_duration(eta)}   "
        )
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the bar's line."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()

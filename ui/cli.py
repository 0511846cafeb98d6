"""The `timbre` command line: one parser built from each package's commands.

Imports no Qt widgets: CLI commands run on machines without a display.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from player.cli_common import add_db_option
from player.db import DatabaseError

# Each module has register(subparsers); its subcommands set `func(args) -> int`.
COMMAND_MODULES = (
    "player.cli_library",      # scan, library, errors, search
    "player.cli_history",      # history
    "recommender.cli_analysis",  # analyze
    "recommender.cli_engine",  # similar, foryou, like, ban
    "ui.cli_play",             # play (headless)
)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="timbre",
        description="Timbre: a music player that learns your taste offline. "
        "Without a command, opens the window.",
    )
    add_db_option(parser)
    parser.add_argument(
        "--install-desktop-entry",
        action="store_true",
        help="install the .desktop file and icon into the XDG dirs, then exit",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency, not a command not built yet
                raise
            continue
        module.register(sub)
    return parser


def run(argv: Sequence[str] | None = None) -> int | None:
    """Run a CLI command; return its exit code, or None when no command was given."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return None
    try:
        return int(args.func(args) or 0)
    except DatabaseError as exc:
        print(f"timbre: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("timbre: interrupted", file=sys.stderr)
        return 130

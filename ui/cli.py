"""The `timbre` command line: one parser built from each package's commands.

Imports no Qt widgets: CLI commands run on machines without a display. A command's
module is imported only when that command runs (or for --help): the recommender's
modules pull in scipy, scikit-learn and librosa, seconds that `timbre play` or the
window should not pay at start-up.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from player.cli_common import add_db_option
from player.db import DatabaseError

# command -> the modules that register it (each has register(subparsers); its
# subcommands set `func(args) -> int`).
COMMANDS: dict[str, tuple[str, ...]] = {
    "scan": ("player.cli_library",),
    "library": ("player.cli_library",),
    "errors": ("player.cli_library",),
    "search": ("player.cli_library",),
    "history": ("player.cli_history",),
    "analyze": ("recommender.cli_analysis",),
    "similar": ("recommender.cli_engine",),
    "foryou": ("recommender.cli_engine",),
    "like": ("recommender.cli_engine",),
    "ban": ("recommender.cli_engine",),
    "not-this": ("recommender.cli_engine",),
    "less-like-this": ("recommender.cli_engine",),
    "playlist": ("player.cli_playlists", "recommender.cli_playlists_gen"),
    "rate": ("player.cli_playlists",),
    "mix": ("recommender.cli_playlists_gen",),
    "play": ("ui.cli_play",),
    "model": ("recommender.cli_taste",),
    "autotag": ("recommender.cli_taste",),
}
COMMAND_MODULES = tuple(dict.fromkeys(m for mods in COMMANDS.values() for m in mods))


def _command_in(argv: Sequence[str]) -> str | None:
    """Return the subcommand named in argv (skipping the global options), or None."""
    skip = False
    for token in argv:
        if skip:
            skip = False
            continue
        if token == "--db":
            skip = True
            continue
        if token.startswith("-"):
            continue
        return token
    return None


def build_parser(modules: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    """Return the parser with the commands of the given modules."""
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
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line, importing only the modules the named command needs."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = _command_in(args_list)
    if command in COMMANDS:
        modules = COMMANDS[command]
    elif command is None and not {"-h", "--help"} & set(args_list):
        modules = ()  # the window: no command modules at all
    else:
        modules = COMMAND_MODULES  # help, or an unknown command to report
    return build_parser(modules).parse_args(args_list)


def run_command(args: argparse.Namespace) -> int:
    """Run a parsed CLI command; return its exit code."""
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a pipe closed early shows here, not at the interpreter's exit
        return code
    except DatabaseError as exc:
        print(f"timbre: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("timbre: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Whoever read our output went away (`timbre library | head`): stop quietly, as a
        # Unix tool killed by SIGPIPE would; later writes go nowhere instead of failing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def run(argv: Sequence[str] | None = None) -> int | None:
    """Run a CLI command; return its exit code, or None when no command was given."""
    args = parse(argv)
    if args.command is None:
        return None
    return run_command(args)

"""`timbre history`: list the listening history, export it, import another player's."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

from player.cli_common import (
    add_db_option,
    format_duration,
    open_db,
    positive_int,
    print_json,
)
from player.history import export_listens, iter_history, play_as_dict
from player.history_import import register_import


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `history` with its subcommands `list` (the default) and `export`."""
    p = subparsers.add_parser(
        "history", help="the listening history: list (default), export",
        description="Without a subcommand, lists the plays like `history list`.",
    )
    add_db_option(p)
    _list_options(p)
    p.set_defaults(func=_run_list)
    sub = p.add_subparsers(dest="history_command", metavar="SUBCOMMAND")

    lst = sub.add_parser("list", help="list plays, oldest first")
    add_db_option(lst)
    _list_options(lst)
    lst.set_defaults(func=_run_list)

    exp = sub.add_parser(
        "export", help="write every play as ListenBrainz-style JSON lines (lossless)",
        description="Write every play as ListenBrainz-style JSON lines, one listen a line, "
        "whatever the file is called; Timbre's own fields (how much was heard, why it ended, "
        "what queued it) ride along, so `timbre history import` reads it back losslessly.")
    add_db_option(exp)
    exp.add_argument("file", help="the file to write ('-' for standard output)")
    exp.set_defaults(func=_run_export)

    register_import(sub)


def _list_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                   help="print a JSON list of play objects")
    p.add_argument("--limit", type=positive_int, default=argparse.SUPPRESS, metavar="N",
                   help="only the newest N plays")


def _run_list(args: argparse.Namespace) -> int:
    conn = open_db(args)
    try:
        limit = getattr(args, "limit", None)
        plays = list(iter_history(conn, limit=limit))
    finally:
        conn.close()
    if getattr(args, "json", False):
        print_json([play_as_dict(p) for p in plays])
        return 0
    if not plays:
        print("no plays yet")
        return 0
    for play in plays:
        when = dt.datetime.fromtimestamp(play.started_at).strftime("%Y-%m-%d %H:%M")
        who = f"{play.artist} - {play.title}" if play.artist else (play.title or "?")
        heard = format_duration(play.heard_ms / 1000)
        print(f"{when}  {play.end_reason or '':<8}  {heard:>6}  {play.source or '':<8}  {who}")
    return 0


def _run_export(args: argparse.Namespace) -> int:
    conn = open_db(args)
    try:
        if args.file == "-":
            count = export_listens(conn, sys.stdout)
        else:
            target = Path(args.file)
            # Write beside the target and rename: a failed export never leaves half a file.
            fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".",
                                       prefix=f".{target.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    count = export_listens(conn, out)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
    except OSError as exc:
        print(f"timbre: cannot write {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    print(f"exported {count} plays to {args.file}", file=sys.stderr)
    return 0

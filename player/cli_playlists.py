"""Playlist commands: `timbre playlist list|show|create|add|remove|move|rename|delete|import|export`,
and `timbre rate TRACK [STARS]` (star ratings, which smart playlists filter and sort on).

Other modules add subcommands to `timbre playlist` (recommender/cli_playlists_gen.py adds
`generate`) through `playlist_subcommands(sub)`, whichever registers first.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from player.cli_common import add_db_option, format_duration, open_db, print_json
from player.feedback import rating
from player.library import find_track, no_track_reason
from player.models import TrackId
from player.playlist_files import FORMATS, PlaylistFileError
from player.playlist_io import export_playlist, import_playlist
from player.playlists import (
    SMART,
    PlaylistError,
    RuleError,
    add_tracks,
    create_playlist,
    delete_playlist,
    ensure_default_playlists,
    get_playlist,
    list_playlists,
    move_tracks,
    playlist_tracks,
    remove_positions,
    rename_playlist,
    set_rating,
)

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
_ATTR = "_timbre_playlist_subcommands"


def playlist_subcommands(sub: SubParsers) -> SubParsers:
    """Return the subcommands of `timbre playlist`, creating the command if needed."""
    parser = sub.choices.get("playlist")
    if parser is None:
        parser = sub.add_parser("playlist", help="manual, smart and generated playlists",
                                description="Manual, smart and generated playlists, and "
                                "playlist files (M3U/M3U8, PLS, XSPF).")
        add_db_option(parser)
        setattr(parser, _ATTR, parser.add_subparsers(dest="playlist_command",
                                                     metavar="SUBCOMMAND"))
        parser.set_defaults(func=_guarded(_list), json=False)  # bare `timbre playlist`: list
    subcommands: SubParsers = getattr(parser, _ATTR)
    return subcommands


def _add(sub: SubParsers, name: str, func: Callable[[argparse.Namespace], int],
         help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text, description=help_text)
    add_db_option(p)
    p.set_defaults(func=_guarded(func))
    return p


def register(sub: SubParsers) -> None:
    """Add `timbre playlist` with its subcommands, and `timbre rate`, to the `timbre` parser."""
    ps = playlist_subcommands(sub)
    p = _add(ps, "list", _list, "list playlists (the default smart ones are created once)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = _add(ps, "show", _show, "list a playlist's tracks (a smart one is evaluated now)")
    p.add_argument("name", help="the playlist's name or id")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = _add(ps, "create", _create, "create a manual playlist, or a smart one with --rules")
    p.add_argument("name")
    p.add_argument("--rules", metavar="JSON",
                   help='smart rules, e.g. \'{"match": "all", "rules": [{"field": "genre", '
                   '"op": "contains", "value": "jazz"}], "sort": "-play_count", "limit": 50}\'')
    p.add_argument("--rules-file", type=Path, metavar="FILE", help="smart rules from a JSON file")
    p.add_argument("--description", default=None)

    p = _add(ps, "add", _add_tracks, "add tracks (by id, or every match of --search)")
    p.add_argument("name")
    p.add_argument("track_ids", nargs="*", type=int, metavar="TRACK_ID")
    p.add_argument("--search", metavar="QUERY", help="add every track this search finds")
    p.add_argument("--at", type=int, metavar="POSITION", help="insert at this 1-based position")

    p = _add(ps, "remove", _remove, "remove entries by their 1-based positions (see show)")
    p.add_argument("name")
    p.add_argument("positions", nargs="+", type=int, metavar="POSITION")

    p = _add(ps, "move", _move, "move the entry at one position to another (1-based)")
    p.add_argument("name")
    p.add_argument("source", type=int, metavar="FROM")
    p.add_argument("target", type=int, metavar="TO")

    p = _add(ps, "rename", _rename, "rename a playlist")
    p.add_argument("name")
    p.add_argument("new_name")

    p = _add(ps, "delete", _delete, "delete a playlist (never its tracks)")
    p.add_argument("name")

    p = _add(ps, "import", _import, "import an M3U/M3U8, PLS or XSPF file as a playlist")
    p.add_argument("file", type=Path)
    p.add_argument("--name", default=None, help="the new playlist's name (default: file name)")
    p.add_argument("--format", dest="file_format", choices=FORMATS, default=None)
    p.add_argument("--encoding", default=None,
                   help="the text encoding of an .m3u/.pls (default: UTF-8, else cp1252)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = _add(ps, "export", _export, "write a playlist to an M3U8, PLS or XSPF file")
    p.add_argument("name")
    p.add_argument("file", type=Path)
    p.add_argument("--format", dest="file_format", choices=FORMATS, default=None,
                   help="default: from the file's suffix (m3u for others)")
    p.add_argument("--absolute", action="store_true",
                   help="write absolute paths (default: relative below the file's folder)")
    _register_rate(sub)


def _register_rate(sub: SubParsers) -> None:
    """Add `timbre rate TRACK [STARS]` to the `timbre` parser."""
    p = sub.add_parser("rate", help="rate a track 1 to 5 stars (0 clears); without STARS, show it",
                       description="Rate a track 1 to 5 stars, 0 to clear its rating; "
                       "without STARS, print its rating (0 when it has none).")
    p.add_argument("track", metavar="TRACK", help="a track id or file path")
    p.add_argument("stars", nargs="?", type=int, choices=range(6), metavar="STARS",
                   help="0 to 5 (0 clears the rating)")
    p.add_argument("--json", action="store_true",
                   help='print {"track_id", "rating"} (0 = not rated)')
    add_db_option(p)
    p.set_defaults(func=_guarded(_rate))


def _rate(args: argparse.Namespace) -> int:
    conn = open_db(args)
    track = find_track(conn, args.track)
    if track is None:
        print(f"timbre: {no_track_reason(conn, args.track)}", file=sys.stderr)
        return 1
    if args.stars is not None:
        set_rating(conn, track, args.stars)
    stars = rating(conn, track)
    if args.json:
        print_json({"track_id": int(track), "rating": stars})
    elif args.stars == 0:
        print(f"Cleared the rating of track {track}.")
    elif args.stars is not None:
        print(f"Rated track {track} {stars} star{'s' if stars > 1 else ''}.")
    else:
        print(f"Track {track}: {stars} star{'s' if stars > 1 else ''}." if stars
              else f"Track {track}: not rated.")
    return 0


def _guarded(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (PlaylistError, RuleError, PlaylistFileError) as exc:
            print(f"timbre: {exc}", file=sys.stderr)
            return 1
    return run


def _track_rows(conn: sqlite3.Connection, ids: list[TrackId]) -> list[dict[str, object]]:
    rows = {}
    for i in range(0, len(ids), 500):
        chunk = [int(t) for t in ids[i:i + 500]]
        for r in conn.execute("SELECT id, artist, title, album, duration_s, path FROM tracks "
                              f"WHERE id IN ({','.join('?' * len(chunk))})", chunk):
            rows[r[0]] = {"id": r[0], "artist": r[1], "title": r[2], "album": r[3],
                          "duration_s": r[4], "path": r[5]}
    return [rows[int(t)] for t in ids if int(t) in rows]


def _list(args: argparse.Namespace) -> int:
    conn = open_db(args)
    ensure_default_playlists(conn)
    items = []
    for info in list_playlists(conn):
        count = len(playlist_tracks(conn, info.id)) if info.kind == SMART else info.track_count
        items.append({"id": info.id, "name": info.name, "kind": info.kind, "tracks": count,
                      "description": info.description, "rules": info.rules})
    if args.json:
        print_json(items)
    else:
        for item in items:
            n = item["tracks"]
            print(f"{item['id']:>4}  {item['name']}  ({item['kind']}, {n} track{'' if n == 1 else 's'})")
    return 0


def _show(args: argparse.Namespace) -> int:
    conn = open_db(args)
    info = get_playlist(conn, args.name)
    tracks = _track_rows(conn, playlist_tracks(conn, info.id))
    if args.json:
        print_json({"id": info.id, "name": info.name, "kind": info.kind,
                    "description": info.description, "rules": info.rules, "tracks": tracks})
        return 0
    print(f"{info.name} ({info.kind}, {len(tracks)} track{'' if len(tracks) == 1 else 's'})")
    for n, t in enumerate(tracks, start=1):
        length = format_duration(float(t["duration_s"])) if t["duration_s"] else "-"  # type: ignore[arg-type]
        print(f"{n:>4}. [{t['id']}] {t['artist'] or '?'} - {t['title']}  {length}")
    return 0


def _create(args: argparse.Namespace) -> int:
    conn = open_db(args)
    text = args.rules_file.read_text("utf-8") if args.rules_file else args.rules
    if text is None:
        pid = create_playlist(conn, args.name, description=args.description)
    else:
        try:
            rules = json.loads(text)
        except ValueError as exc:
            raise RuleError(f"the rules are not valid JSON ({exc})") from exc
        pid = create_playlist(conn, args.name, kind=SMART, rules=rules,
                              description=args.description)
    print(f"created playlist {pid}: {args.name}")
    return 0


def _add_tracks(args: argparse.Namespace) -> int:
    conn = open_db(args)
    info = get_playlist(conn, args.name)
    ids = [TrackId(t) for t in args.track_ids]
    if args.search:
        from player.library import search

        ids += search(conn, args.search, limit=10_000)
    if not ids:
        raise PlaylistError("nothing to add: give track ids or --search QUERY")
    position = None if args.at is None else max(0, args.at - 1)
    total = add_tracks(conn, info.id, ids, position=position)
    print(f"added {len(ids)} tracks to {info.name} ({total} now)")
    return 0


def _remove(args: argparse.Namespace) -> int:
    conn = open_db(args)
    info = get_playlist(conn, args.name)
    removed = remove_positions(conn, info.id, [p - 1 for p in args.positions])
    print(f"removed {removed} entries from {info.name}")
    return 0


def _move(args: argparse.Namespace) -> int:
    conn = open_db(args)
    info = get_playlist(conn, args.name)
    move_tracks(conn, info.id, [args.source - 1], args.target - 1)
    print(f"moved entry {args.source} of {info.name} to {args.target}")
    return 0


def _rename(args: argparse.Namespace) -> int:
    conn = open_db(args)
    info = get_playlist(conn, args.name)
    rename_playlist(conn, info.id, args.new_name)
    print(f"renamed {info.name} to {args.new_name}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    conn = open_db(args)
    info = get_playlist(conn, args.name)
    delete_playlist(conn, info.id)
    print(f"deleted {info.name}")
    return 0


def _import(args: argparse.Namespace) -> int:
    conn = open_db(args)
    result = import_playlist(conn, args.file, name=args.name, fmt=args.file_format,
                             encoding=args.encoding)
    if args.json:
        print_json({"id": result.playlist_id, "name": result.name, "entries": result.entries,
                    "resolved": result.resolved,
                    "unresolved": [{"position": u.position + 1, "location": u.location,
                                    "reason": u.reason} for u in result.unresolved]})
        return 0
    print(f"imported {result.name}: {result.resolved} of {result.entries} entries are "
          "library tracks")
    for u in result.unresolved:
        print(f"  entry {u.position + 1}: {u.location!r}: {u.reason}")
    return 0


def _export(args: argparse.Namespace) -> int:
    conn = open_db(args)
    written, skipped = export_playlist(conn, args.name, args.file, fmt=args.file_format,
                                       absolute=args.absolute)
    print(f"wrote {written} entries to {args.file}")
    for path in skipped:
        print(f"timbre: left out {path!r}: a file name with a line break", file=sys.stderr)
    return 0

"""`timbre play`: play without a window, with MPRIS and the history logged as usual."""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import sys
from typing import TYPE_CHECKING

from player.cli_common import (
    add_db_option,
    float_between,
    open_db,
    positive_float,
    positive_int,
)
from player.library import find_track, no_track_reason
from player.models import Play, TrackId
from player.queue import ran_out

if TYPE_CHECKING:
    from player.playback import PlaybackEngine
    from recommender.engine import Engine
    from recommender.radio import Radio


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `play TRACK|--foryou|--similar TRACK [--for SECONDS]`."""
    p = subparsers.add_parser(
        "play", help="play in the terminal, without a window",
        description="Play a library track (its id or its file path), the For you queue, or "
        "a radio of tracks similar to one; For you and the radio keep going until nothing "
        "left fits. Desktop media keys and playerctl control it over MPRIS; "
        "plays are logged as in the window. Ctrl-C stops.",
    )
    add_db_option(p)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("track", nargs="?", help="a track id or the path of a library file")
    what.add_argument("--foryou", action="store_true", help="play the For you queue")
    what.add_argument("--similar", metavar="TRACK", help="play tracks similar to TRACK")
    p.add_argument("--for", dest="seconds", type=positive_float, metavar="SECONDS",
                   help="stop after this many seconds")
    p.add_argument("-n", "--count", type=positive_int, default=25,
                   help="how many tracks --foryou/--similar queue at first; more follow "
                   "as they play, steered by what is heard and skipped (default 25)")
    p.add_argument("--crossfade", type=float_between(0.0, 10.0), default=0.0, metavar="SECONDS",
                   help="crossfade between tracks, 0-10 s (default 0)")
    p.add_argument("--replaygain", choices=("off", "track", "album"), default="track",
                   help="volume levelling from ReplayGain tags (default track)")
    p.add_argument("--no-mpris", action="store_true", help="do not publish on D-Bus")
    p.set_defaults(func=_run)


class PlayError(Exception):
    """The command cannot start; the message says why."""


def resolve_track(conn: sqlite3.Connection, text: str) -> TrackId:
    """Return the library track named by an id or a file path."""
    track = find_track(conn, text)
    if track is None:
        raise PlayError(no_track_reason(conn, text))
    return track


class _Refill:
    """Keeps a radio or For you going as it plays, as the window does: asks for more
    picks when the queue runs low, and steers the radio by what was heard and skipped."""

    def __init__(self, engine: Engine, count: int, radio: Radio | None) -> None:
        self.engine = engine
        self.count = count
        self.radio = radio
        self.ended = False  # nothing left that fits: said once, the queue then runs out
        self._busy = False  # enqueuing changes the queue again

    def played(self, track_id: TrackId | None, skipped: bool) -> None:
        if self.radio is not None and track_id is not None:
            self.radio.played(track_id, skipped=skipped)

    def more(self, playback: PlaybackEngine) -> None:
        """Queue more picks when the radio's or For you's tracks are about to run out."""
        source = playback.queue.running_low(playback.repeat)
        if source is None or self.ended or self._busy:
            return
        self._busy = True
        try:
            if source == "radio" and self.radio is not None:
                picks = self.radio.next(10)
            elif source == "foryou":
                # For you itself leaves out what was heard in the last hours; a track
                # heard before that, in a day-long queue, may come again.
                ahead = playback.queue.still_ahead()
                picks = [p for p in self.engine.for_you(self.count + len(ahead))
                         if p.track_id not in ahead][: self.count]
            else:
                return
            if not picks:
                self.ended = True
                what = "the radio" if source == "radio" else "For you"
                print(f"({ran_out(what)})", flush=True)
                return
            item = playback.queue.current_item()
            playback.enqueue([p.track_id for p in picks], source=source,
                             source_ref=item.source_ref if item else None,
                             why={p.track_id: p.why for p in picks if p.why})
        finally:
            self._busy = False


def _queue_for(conn: sqlite3.Connection, args: argparse.Namespace
               ) -> tuple[list[TrackId], str, str | None, dict[TrackId, str], _Refill | None]:
    """Return the track ids to play, their source and source_ref, why each recommended
    track was picked, and what keeps a radio or For you going."""
    if args.track:
        return [resolve_track(conn, args.track)], "library", None, {}, None
    from player.cli_common import db_path
    from recommender.cli_engine import build_engine

    engine = build_engine(conn, db_path(args))
    if args.foryou:
        picks = engine.for_you(args.count)
        if not picks:
            raise PlayError("For you is empty: scan and analyse the library first")
        ids, source, source_ref = [p.track_id for p in picks], "foryou", None
        refill = _Refill(engine, args.count, None)
    else:
        seed = resolve_track(conn, args.similar)
        radio = engine.radio([seed])
        picks = radio.next(args.count)
        ids, source, source_ref = [seed] + [p.track_id for p in picks], "radio", str(int(seed))
        refill = _Refill(engine, args.count, radio)
    return ids, source, source_ref, {p.track_id: p.why for p in picks if p.why}, refill


def _run(args: argparse.Namespace) -> int:
    conn = open_db(args)
    try:
        ids, source, source_ref, why, refill = _queue_for(conn, args)
    except PlayError as exc:
        print(f"timbre: {exc}", file=sys.stderr)
        conn.close()
        return 2
    # Qt Multimedia says on every start that it found no PipeWire library, then uses
    # PulseAudio: nothing for the user to act on (QT_LOGGING_RULES set by the user wins).
    os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia.symbolsresolver=false")
    from PySide6.QtCore import QCoreApplication, QTimer

    from player.mpris import MprisService
    from player.playback import PlaybackEngine, PlaybackSettings

    app = QCoreApplication.instance() or QCoreApplication(sys.argv[:1])
    settings = PlaybackSettings(replaygain_mode=args.replaygain)
    engine = PlaybackEngine(conn, settings)
    engine.restore()  # recovers a play left by a killed session; keeps volume and modes
    engine.set_crossfade(args.crossfade)
    mpris = None if args.no_mpris else MprisService.start(engine)
    outcome = {"played": 0, "failed": 0, "code": 0}

    def on_started(track: object) -> None:
        who = getattr(track, "artist", None)
        title = getattr(track, "title", "")
        print(f"▶ {who} - {title}" if who else f"▶ {title}", flush=True)
        item = engine.queue.current_item()
        if item is not None and item.why:
            print(f"  {item.why}", flush=True)

    def on_failed(track: object, reason: str) -> None:
        outcome["failed"] += 1
        print(f"✗ {getattr(track, 'title', 'track')}: {reason}", file=sys.stderr, flush=True)

    def on_recorded(play: Play) -> None:
        if play.end_reason != "failed":
            outcome["played"] += 1
        if refill is not None:
            refill.played(play.track_id, play.end_reason == "skipped")

    def on_state(state: str) -> None:
        if state == "stopped":
            QTimer.singleShot(0, app.quit)

    def finish(code: int, how: str) -> None:
        outcome["code"] = code
        if how == "close":
            engine.close()
        else:
            engine.stop()
        app.quit()

    engine.track_started.connect(on_started)
    engine.track_failed.connect(on_failed)
    engine.play_recorded.connect(on_recorded)
    engine.state_changed.connect(on_state)
    engine.queue_finished.connect(lambda: QTimer.singleShot(0, app.quit))
    if refill is not None:
        engine.queue_changed.connect(lambda: refill.more(engine))
    if mpris is not None:
        mpris.quit_requested.connect(lambda: finish(0, "close"))

    # Python runs its signal handlers only when it gets control: a timer gives it some.
    heartbeat = QTimer()
    heartbeat.start(200)
    heartbeat.timeout.connect(lambda: None)
    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, lambda *_: finish(130, "stop")),
        signal.SIGTERM: signal.signal(signal.SIGTERM, lambda *_: finish(143, "close")),
    }
    if args.seconds is not None:
        QTimer.singleShot(int(max(0.0, args.seconds) * 1000), lambda: finish(0, "stop"))
    engine.play_tracks(ids, source=source, source_ref=source_ref, why=why)
    try:
        app.exec()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if engine.state != "stopped":
            engine.close()
        else:
            engine.save()
        if mpris is not None:
            mpris.stop()
        conn.close()
    if outcome["code"]:
        return outcome["code"]
    return 0 if outcome["played"] or not outcome["failed"] else 1

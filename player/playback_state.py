"""What playback keeps between runs, and how it is set: settings, failures, position.

The queue itself is stored by player.queue; the position, volume and modes, and why
recent tracks could not be played, live in the `state` table beside it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass

from player.models import TrackId
from player.queue import load_state, save_state

FAILURES_KEY = "playback.failures"
FAILURES_KEPT = 200


@dataclass
class PlaybackSettings:
    """How the engine plays; the window's settings dialog edits these."""

    replaygain_mode: str = "track"  # off | track | album
    preamp_db: float = 0.0
    fallback_db: float = 0.0  # gain for tracks without ReplayGain tags
    crossfade_s: float = 0.0  # 0..10
    watchdog_s: float = 4.0  # no audio for this long: the file has failed


def record_failure(conn: sqlite3.Connection, track_id: TrackId, reason: str) -> None:
    """Keep why a track failed to play (newest FAILURES_KEPT, in the state table)."""
    text = load_state(conn, FAILURES_KEY)
    try:
        failures = json.loads(text) if text else []
    except ValueError:
        failures = []
    failures = [f for f in failures if isinstance(f, dict) and f.get("track_id") != track_id]
    failures.append({"track_id": int(track_id), "reason": reason, "at": time.time()})
    save_state(conn, FAILURES_KEY, failures[-FAILURES_KEPT:])


def recent_failures(conn: sqlite3.Connection) -> dict[TrackId, str]:
    """Return the recorded reason each recently failed track could not be played."""
    text = load_state(conn, FAILURES_KEY)
    try:
        failures = json.loads(text) if text else []
    except ValueError:
        return {}
    return {TrackId(int(f["track_id"])): str(f["reason"]) for f in failures
            if isinstance(f, dict) and "track_id" in f}


"""Benchmark playlists and history import; prints figures, asserts nothing.

    ./bench/run playlists.py                      # 20,000 tracks, 100,000 listens
    ./bench/run playlists.py --tracks 2000 --listens 10000

Builds a library with SQL (the scanner's own benchmark is bench/scan.py) with synthetic
feature vectors in 8 styles, then measures:
- importing a Last.fm CSV of N listens (80% of them in the library), and re-importing it;
- rematching the unmatched listens after their tracks are added;
- evaluating each default smart playlist and a 3-rule one;
- exporting and importing a 5,000-entry M3U8;
- choosing the number of clusters and building every mix.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

STYLES = 8
DIM = 40


def build(conn: object, n: int, rng: np.random.Generator) -> None:
    """Insert n tracks with features in STYLES planted styles."""
    from player.db import transaction

    centres = rng.normal(0, 1, (STYLES, DIM))
    with transaction(conn):  # type: ignore[arg-type]
        rows = []
        for i in range(n):
            artist = f"Artist {i // 40}"
            rows.append((f"/music/{i // 12}/{i}.flac", f"/music/{i // 12}/{i}.flac".encode(), 1, 1,
                         f"Song {i}", artist, json.dumps([artist]), f"Album {i // 12}",
                         ["Rock", "Jazz", "Pop", "Techno", "Folk", "Ambient", "Metal", "Soul"][i % STYLES],
                         180.0 + i % 60, time.time() - i * 600, 0.0))
        conn.executemany(  # type: ignore[attr-defined]
            "INSERT INTO tracks (path, path_bytes, size, mtime_ns, title, artist, artists, album, "
            "genre, duration_s, added_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        conn.executemany(  # type: ignore[attr-defined]
            "INSERT INTO features (track_id, version, vector, analyzed_at, tempo_bpm, energy, "
            "brightness, danceability, acousticness, loudness_db, mode) "
            "VALUES (?, 1, ?, 0, ?, ?, ?, ?, ?, ?, ?)",
            [(i + 1, (centres[i % STYLES] + rng.normal(0, 0.3, DIM)).astype("<f4").tobytes(),
              60 + 15 * (i % STYLES), (i % STYLES) / STYLES, rng.random(), rng.random(),
              rng.random(), -30 + 3 * (i % STYLES), "major" if i % 2 else "minor")
             for i in range(n)])


def timed(label: str, func, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Run func, print how long it took, and return its result."""
    start = time.perf_counter()
    result = func(*args, **kwargs)
    print(f"{label:<52} {time.perf_counter() - start:8.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tracks", type=int, default=20_000)
    parser.add_argument("--listens", type=int, default=100_000)
    args = parser.parse_args()

    from player.db import connect
    from player.history_import import import_history, rematch_unmatched
    from player.library_source import SqliteLibrarySource
    from player.playlist_io import export_playlist, import_playlist
    from player.playlists import (
        create_playlist,
        ensure_default_playlists,
        evaluate_rules,
        list_playlists,
        playlist_tracks,
    )
    from recommender.engine import Engine
    from recommender.mixes import all_mixes, cluster

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        conn = connect(tmpdir / "library.db")
        timed(f"build {args.tracks:,} tracks with features", build, conn, args.tracks, rng)

        csv = tmpdir / "scrobbles.csv"
        with csv.open("w", encoding="utf-8") as f:
            for j in range(args.listens):
                i = int(rng.integers(0, args.tracks))
                if j % 5 == 0:  # a fifth of the listens are of tracks not in the library yet
                    i = args.tracks + int(rng.integers(0, 500))
                day = time.gmtime(1_500_000_000 + j * 200)
                f.write(f'"Artist {i // 40}","Album {i // 12}","Song {i}",'
                        f'"{time.strftime("%d %b %Y %H:%M", day)}"\n')
        report = timed(f"import {args.listens:,} Last.fm listens", import_history, conn, csv)
        print(f"  read {report.read:,}, matched {report.matched:,}, unmatched {report.unmatched:,},"
              f" added {report.added:,}, duplicates {report.duplicates:,}")
        again = timed("re-import the same file", import_history, conn, csv)
        print(f"  added {again.added:,}, duplicates {again.duplicates:,}")
        from tests.library_rows import add_track

        for i in range(args.tracks, args.tracks + 500):
            add_track(conn, f"/late/{i}.flac", title=f"Song {i}", artist=f"Artist {i // 40}",
                      album=f"Album {i // 12}")
        matched = timed("rematch after 500 new tracks", rematch_unmatched, conn)
        print(f"  rematched {matched:,} listens")

        ensure_default_playlists(conn)
        for info in list_playlists(conn):
            ids = timed(f"smart playlist {info.name!r}", playlist_tracks, conn, info.id)
            print(f"  {len(ids):,} tracks")
        rules = {"match": "all", "rules": [
            {"field": "genre", "op": "is", "value": "jazz"},
            {"field": "bpm", "op": "between", "value": [60, 120]},
            {"field": "play_count", "op": ">=", "value": 1}], "sort": "-play_count", "limit": 100}
        ids = timed("3-rule smart playlist (genre, BPM, plays)", evaluate_rules, conn, rules)
        print(f"  {len(ids):,} tracks")

        pid = create_playlist(conn, "Big", track_ids=[int(t) for t in rng.integers(1, args.tracks, 5000)])
        out = tmpdir / "music" / "big.m3u8"
        out.parent.mkdir()
        timed("export a 5,000-entry M3U8", export_playlist, conn, pid, out, absolute=True)
        result = timed("import it back (by path)", import_playlist, conn, out)
        print(f"  resolved {result.resolved:,} of {result.entries:,}")

        engine = Engine(SqliteLibrarySource(conn), 1)
        snap = timed("engine snapshot (content index, CF)", engine.snapshot)
        c = timed("cluster (choose k, k-means)", cluster, snap)
        print(f"  k = {c.k} for {len(c.rows):,} analysed tracks ({STYLES} planted styles)")
        mixes = timed("all mixes (cluster, name, order)", all_mixes, snap, time.time())
        for m in mixes[:12]:
            print(f"  {m.kind:<8} {len(m.tracks):>3} tracks  {m.name}")


if __name__ == "__main__":
    main()

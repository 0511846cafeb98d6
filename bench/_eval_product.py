"""The product's own path for bench/eval_similarity.py: scan, analyse, Play similar."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np

from player.db import connect
from player.library_source import SqliteLibrarySource
from player.scanner import scan
from recommender.analysis import analyze
from recommender.engine import Engine


def analyse_set(paths: list[Path], workdir: Path, genres: dict[int, str] | None = None,
                ) -> tuple[Engine, list[int], float]:
    """Scan and analyse the set as a user's library; return (engine, track id of each path,
    scan and analysis seconds).

    genres: index in paths -> a genre tag written into a copy of that file (an ID3 chunk
    in the WAV), as a user's library would carry it; the others stay untagged.
    """
    library = workdir / "library"
    copies = [_place(i, p, library, (genres or {}).get(i)) for i, p in enumerate(paths)]
    db = workdir / "eval.db"
    t0 = time.perf_counter()
    scan([library], db, cancel=threading.Event())
    analyze(db, workers=2, cancel=threading.Event())
    seconds = time.perf_counter() - t0
    conn = connect(db)
    by_path = {Path(path): int(tid) for tid, path in conn.execute("SELECT id, path FROM tracks")}
    return Engine(SqliteLibrarySource(conn)), [by_path[p] for p in copies], seconds


def engine_scores(engine: Engine, ids: list[int], allowed: set[int] | None = None) -> np.ndarray:
    """Return (n, n) scores from each track's Play similar list, as a user gets it.

    Scores are rank-based: the k-th pick of track i gets n - k in row i, so the top of
    each row is exactly the engine's list (all other tracks score -inf). allowed: the
    indices that may be neighbours (the others are skipped, as if not in the library).
    """
    n = len(ids)
    row_of = {tid: i for i, tid in enumerate(ids)}
    want = 10 if allowed is None else min(n - 1, 20 + n - len(allowed))
    scores = np.full((n, n), -np.inf, dtype=np.float64)
    for i, tid in enumerate(ids):
        rank = 0
        for pick in engine.similar([tid], n=want):
            j = row_of.get(int(pick.track_id))
            if j is None or (allowed is not None and j not in allowed):
                continue
            scores[i, j] = n - rank
            rank += 1
    return scores


def _place(i: int, path: Path, library: Path, genre: str | None) -> Path:
    """Put track i in the scanned library: a tagged copy, or a link to the untouched file."""
    out = library / f"{i:04d}{path.suffix}"
    out.parent.mkdir(parents=True, exist_ok=True)
    if genre is None:
        try:
            os.link(path, out)
        except OSError:  # another file system: copy
            shutil.copyfile(path, out)
        return out
    from mutagen.id3 import TCON
    from mutagen.wave import WAVE

    shutil.copyfile(path, out)
    audio = WAVE(out)
    audio.add_tags()
    assert audio.tags is not None
    audio.tags.add(TCON(encoding=3, text=[genre]))
    audio.save()
    return out

"""History import streams its file: flat memory on long histories, batches, damaged tails."""

from __future__ import annotations

import json
import sqlite3
import threading
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from player import text_streams
from player.db import connect
from player.history_formats import HistoryFormatError, open_history
from player.history_import import BATCH, import_history
from tests.library_rows import add_track

START = 1_600_000_000  # 2020-09-13, UTC
ARTISTS = ("Black Sabbath", "Björk", "Nobody")
TITLES = ("Paranoid", "Hunter", "Nowhere")


def _listen(i: int) -> tuple[str, str, int]:
    """Return the artist, title and time of listen i (one a minute, three songs in turn)."""
    return ARTISTS[i % 3], TITLES[i % 3], START + 60 * i


def _lb(i: int) -> str:
    artist, title, at = _listen(i)
    return json.dumps({"listened_at": at, "track_metadata": {
        "artist_name": artist, "track_name": title,
        "additional_info": {"duration_ms": 200_000 + i % 1000}}})


def write_history(folder: Path, kind: str, n: int) -> Path:
    """Write n listens in one of the formats; return the file."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "scrobbler":
        path = folder / ".scrobbler.log"
        with path.open("w", encoding="utf-8") as f:
            f.write("#AUDIOSCROBBLER/1.1\n#TZ/UTC\n#CLIENT/test\n")
            for i in range(n):
                artist, title, at = _listen(i)
                f.write(f"{artist}\tAlbum\t{title}\t1\t200\tL\t{at}\t\n")
    elif kind == "lastfm":
        path = folder / "scrobbles.csv"
        with path.open("w", encoding="utf-8") as f:
            f.write("uts,artist,album,track\n")
            for i in range(n):
                artist, title, at = _listen(i)
                f.write(f'{at},"{artist}",Album,"{title}"\n')
    elif kind == "jsonl":
        path = folder / "listens.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for i in range(n):
                f.write(_lb(i) + "\n")
    elif kind == "array":
        path = folder / "listens.json"
        with path.open("w", encoding="utf-8") as f:
            f.write("[\n")
            for i in range(n):
                f.write(("," if i else "") + _lb(i) + "\n")
            f.write("]\n")
    else:  # the ListenBrainz zip of monthly files
        path = folder / "listenbrainz_me.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for month in range(4):
                with z.open(f"listens/2020/{month + 1}.jsonl", "w") as member:
                    for i in range(month, n, 4):
                        member.write((_lb(i) + "\n").encode())
    return path


def peak_bytes(work: Callable[[], object]) -> tuple[int, object]:
    """Return the peak of Python allocations while work runs, and its result."""
    tracemalloc.start()
    try:
        result = work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result


def count_listens(path: Path) -> int:
    with open_history(path) as stream:
        return sum(1 for _ in stream)


KINDS = ("scrobbler", "lastfm", "jsonl", "array", "zip")


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_reading_a_long_history_takes_flat_memory(kind: str, tmp_path: Path) -> None:
    small = write_history(tmp_path / "small", kind, 10_000)
    big = write_history(tmp_path / "big", kind, 100_000)
    small_peak, small_count = peak_bytes(lambda: count_listens(small))
    big_peak, big_count = peak_bytes(lambda: count_listens(big))
    assert (small_count, big_count) == (10_000, 100_000)
    # Ten times the listens, about the same memory: the file is never held whole.
    assert big_peak < 1.5 * small_peak + 256 * 1024, (small_peak, big_peak)
    assert big_peak < big.stat().st_size / 3, (big_peak, big.stat().st_size)


@pytest.fixture
def conn(db_path: Path) -> sqlite3.Connection:
    conn = connect(db_path)
    add_track(conn, "/m/paranoid.flac", title="Paranoid", artist="Black Sabbath")
    add_track(conn, "/m/hunter.flac", title="Hunter", artist="Björk")
    return conn


@pytest.mark.slow
def test_importing_200k_listens_takes_flat_memory(conn: sqlite3.Connection,
                                                  tmp_path: Path) -> None:
    small = write_history(tmp_path / "small", "array", 20_000)
    big = write_history(tmp_path / "big", "array", 200_000)
    small_peak, _ = peak_bytes(lambda: import_history(conn, small))
    big_peak, report = peak_bytes(lambda: import_history(conn, big))
    assert (report.read, report.added, report.duplicates) == (200_000, 180_000, 20_000)  # type: ignore[attr-defined]
    assert (report.matched, report.unmatched) == (133_334, 66_666)  # type: ignore[attr-defined]
    assert big_peak < 1.5 * small_peak + 1024**2, (small_peak, big_peak)
    assert conn.execute("SELECT count(*) FROM plays").fetchone()[0] == 200_000


@pytest.mark.parametrize("kind", KINDS)
def test_every_format_imports_in_batches_and_again_adds_nothing(
        kind: str, conn: sqlite3.Connection, tmp_path: Path) -> None:
    n = BATCH * 2 + 7
    path = write_history(tmp_path, kind, n)
    seen: list[tuple[int, int]] = []
    report = import_history(conn, path, progress=lambda done, total: seen.append((done, total)))
    assert (report.read, report.added, report.invalid) == (n, n, 0)
    assert (report.matched, report.unmatched) == (n - n // 3, n // 3)
    assert len(seen) == 3  # one progress step per batch, in bytes of the file
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert seen[-1][0] == seen[-1][1] > 0
    assert import_history(conn, path).added == 0
    assert conn.execute("SELECT count(*) FROM plays").fetchone()[0] == n


def test_cancel_keeps_the_batches_already_stored(conn: sqlite3.Connection,
                                                 tmp_path: Path) -> None:
    path = write_history(tmp_path, "scrobbler", BATCH * 3)
    cancel = threading.Event()
    report = import_history(conn, path, progress=lambda done, total: cancel.set(),
                            cancel=cancel)
    assert (report.read, report.added) == (BATCH, BATCH)
    assert conn.execute("SELECT count(*) FROM plays").fetchone()[0] == BATCH
    assert import_history(conn, path).added == BATCH * 2  # the rest, later


ARRAY = [
    {"listened_at": 1_600_000_000, "track_metadata": {"artist_name": "A [x]", "track_name":
                                                      'say "]", then ,'}},
    12345678901234567890, -0.5e-3, True, None, "a \\\"string\\\" with ] and ,", [], {},
    [1, [2, [3, {"k": "v"}]]], {"nested": {"deeper": [True, False, None]}}, "ünïcödé ♪",
]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 65536])
@pytest.mark.parametrize("spacing", ["", " \n\t "])
def test_json_array_items_match_json_loads_at_any_chunk_size(
        chunk: int, spacing: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_streams, "CHUNK_CHARS", chunk)
    path = tmp_path / "a.json"
    sep = spacing + "," + spacing
    path.write_text("\ufeff" + spacing + "[" + spacing
                    + sep.join(json.dumps(x) for x in ARRAY) + spacing + "]" + spacing, "utf-8")
    with text_streams.open_text(path) as text:
        assert list(text_streams.json_array_items(text)) == json.loads(
            path.read_text("utf-8-sig"))
    path.write_text(spacing + "[" + spacing + "]", "utf-8")
    with text_streams.open_text(path) as text:
        assert list(text_streams.json_array_items(text)) == []


def test_a_damaged_array_keeps_what_came_before(conn: sqlite3.Connection,
                                                tmp_path: Path) -> None:
    path = tmp_path / "listens.json"
    good = [_lb(i) for i in range(3)]
    path.write_text("[" + ",".join(good) + ', {"listened_at": 16000', "utf-8")  # cut short
    report = import_history(conn, path)
    assert (report.read, report.added, report.invalid) == (3, 3, 1)
    assert "item 4" in report.problems[0] and "the rest is skipped" in report.problems[0]
    path.write_text("[" + ",".join(good) + "] trailing", "utf-8")  # a closed array: fine
    assert import_history(conn, path).read == 3
    path.write_text("[" + good[0] + " " + good[1] + "]", "utf-8")  # no comma
    report = import_history(conn, path)
    assert (report.read, report.invalid) == (1, 1)
    path.write_text('[nonsense, ' + good[0] + "]", "utf-8")
    with pytest.raises(HistoryFormatError, match="not valid JSON"):
        import_history(conn, path)
    assert conn.execute("SELECT count(*) FROM plays").fetchone()[0] == 3


def test_an_oversized_array_item_is_refused_not_buffered(
        conn: sqlite3.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_streams, "MAX_ITEM_CHARS", 10_000)
    monkeypatch.setattr(text_streams, "CHUNK_CHARS", 1000)
    path = tmp_path / "listens.json"
    path.write_text("[" + _lb(0) + ', "' + "x" * 50_000 + '", ' + _lb(1) + "]", "utf-8")
    report = import_history(conn, path)
    assert (report.read, report.invalid) == (1, 1)
    assert "item 2" in report.problems[0]
    assert "longer than 10,000 characters" in report.problems[0]


def test_encoding_is_decided_by_the_whole_file(conn: sqlite3.Connection,
                                               tmp_path: Path) -> None:
    path = tmp_path / "scrobbles.csv"
    rows = [f"Black Sabbath,Paranoid,Paranoid,{i}" for i in range(START, START + 60 * 40_000, 60)]
    # the only non-ASCII byte comes megabytes into the file: still Windows-1252, not UTF-8
    path.write_bytes(("\n".join(rows) + "\nBj\xf6rk,Homogenic,Hunter,1600000000\n")
                     .encode("cp1252"))
    report = import_history(conn, path, fmt="lastfm")
    assert (report.read, report.matched, report.invalid) == (40_001, 40_001, 0)
    assert conn.execute("SELECT count(*) FROM plays WHERE artist = 'Björk'").fetchone()[0] == 1

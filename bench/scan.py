"""Benchmark the library scan against its floors; prints figures, asserts nothing.

    ./bench/run scan.py             # N = 20,000 files
    ./bench/run scan.py --n 100000

Builds N real tagged files (generated audio in several formats, copied and re-tagged),
then measures, each in a fresh process so memory figures are the scan's own:
- the tag-reading floor: a bare loop of mutagen.File, on one core and on two processes;
- the first scan with one reader process pinned to one core, and with two readers;
- an unchanged rescan against a bare os.scandir + stat walk of the same tree;
- peak memory (max RSS) of the scanning process and of its readers.
Each measurement runs --repeat times (default 2) and the fastest run counts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

FORMATS = ("mp3", "flac", "ogg", "opus", "m4a", "mp3", "flac", "mp3")  # a realistic mix
PER_FOLDER = 12  # tracks per album folder


def build_library(root: Path, n: int) -> None:
    """Write n tagged files under root (reused when already built)."""
    marker = root / ".built"
    if marker.exists() and marker.read_text() == str(n):
        return
    if root.exists():
        shutil.rmtree(root)
    from tests.media import jpeg_bytes, make_track, tag, tone

    templates = {}
    tmp = root / ".templates"
    for i, fmt in enumerate(sorted(set(FORMATS))):
        templates[fmt] = make_track(tmp / f"t.{fmt}", tone(220 + 40 * i, 1.0), title="x")
    cover = jpeg_bytes((90, 20, 160), 300)
    started = time.monotonic()
    for i in range(n):
        fmt = FORMATS[i % len(FORMATS)]
        album = i // PER_FOLDER
        folder = root / f"Artist {album // 8:04d}" / f"Album {album:05d}"
        path = folder / f"{i % PER_FOLDER + 1:02d} Track {i}.{fmt}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(templates[fmt], path)
        tag(path, title=f"Track {i} Título", artist=f"Artist {album // 8}",
            album=f"Album {album}", albumartist=f"Artist {album // 8}",
            tracknumber=str(i % PER_FOLDER + 1), date=str(1960 + album % 60),
            genre=["Rock", "Pop"] if i % 3 else "Jazz", rg_track_gain=-6.0 - (i % 7),
            cover=cover if i % PER_FOLDER == 0 else None)
        if i and i % 5000 == 0:
            print(f"  built {i} files ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    shutil.rmtree(tmp)
    marker.write_text(str(n))


def run_child(code: str, *args: str, one_core: bool = False) -> dict[str, float]:
    """Run a measurement in a fresh interpreter; return its JSON figures."""
    pre = "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n" if one_core else ""
    out = subprocess.run(
        [sys.executable, "-c", pre + CHILD_PRELUDE + code, *args],
        check=True, capture_output=True, text=True, cwd=HERE,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


CHILD_PRELUDE = """
import json, os, resource, sys, time
T0 = None
def cpu():
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
def done(**figures):
    figures["cpu_seconds"] = cpu() - CPU0
    figures["self_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["children_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(figures))
"""

FLOOR_MUTAGEN = """
import mutagen
root = sys.argv[1]
paths = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if not f.startswith('.')]
CPU0 = cpu()
t = time.perf_counter()
for p in paths:
    mutagen.File(p)
done(seconds=time.perf_counter() - t, files=len(paths))
"""

FLOOR_MUTAGEN_2 = """
import mutagen
from multiprocessing import Pool
def read(p):
    mutagen.File(p)
if __name__ == '__main__':
    root = sys.argv[1]
    paths = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if not f.startswith('.')]
    with Pool(2) as pool:
        pool.map(read, paths[:10])  # start the processes outside the timing
        CPU0 = cpu()
        t = time.perf_counter()
        pool.map(read, paths, chunksize=64)
        seconds = time.perf_counter() - t
        pool.close()
        pool.join()
    done(seconds=seconds, files=len(paths))
"""

FLOOR_WALK = """
def walk(top):
    n = 0
    stack = [top]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                if e.is_dir():
                    stack.append(e.path)
                else:
                    e.stat()
                    n += 1
    return n
CPU0 = cpu()
t = time.perf_counter()
n = walk(os.fsencode(sys.argv[1]))
done(seconds=time.perf_counter() - t, files=n)
"""

SCAN = """
from collections.abc import Callable
from pathlib import Path
from player.scanner import scan
workers = int(sys.argv[3]) if len(sys.argv) > 3 else None
CPU0 = cpu()
t = time.perf_counter()
report = scan([sys.argv[1]], Path(sys.argv[2]), workers=workers)
s = report.summary()
done(seconds=time.perf_counter() - t, files=s["added"] + s["unchanged"] + s["updated"],
     added=s["added"], unchanged=s["unchanged"], failed=s["failed"])
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="files in the library")
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs of each measurement; the fastest counts (shared machines)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where to build the library (default: a folder in /tmp, reused)")
    args = parser.parse_args()
    root = args.dir or Path(tempfile.gettempdir()) / f"timbre-bench-scan-{args.n}"
    print(f"building {args.n} tagged files in {root} ...", file=sys.stderr)
    t0 = time.monotonic()
    build_library(root / "music", args.n)
    print(f"library ready in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    music = str(root / "music")
    db_dir = root / "db"

    def fresh_db(name: str) -> str:
        path = db_dir / f"{name}.db"
        shutil.rmtree(db_dir / f"{name}.cache", ignore_errors=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        db_dir.mkdir(parents=True, exist_ok=True)
        return str(path)

    # warm the page cache (names and contents) before anything is timed
    for folder, _dirs, names in os.walk(music):
        for name in names:
            with open(os.path.join(folder, name), "rb") as f:
                while f.read(1 << 20):
                    pass
    run_child(FLOOR_WALK, music)
    def best(make_args: Callable[[], tuple[str, ...]], code: str, one_core: bool = False
             ) -> dict[str, float]:
        runs = [run_child(code, *make_args(), one_core=one_core) for _ in range(args.repeat)]
        return min(runs, key=lambda r: r["seconds"])

    floor1 = best(lambda: (music,), FLOOR_MUTAGEN, one_core=True)
    floor2 = best(lambda: (music,), FLOOR_MUTAGEN_2)
    scan1 = best(lambda: (music, fresh_db("one"), "1"), SCAN, one_core=True)
    scan2 = best(lambda: (music, fresh_db("two"), "2"), SCAN)
    walk = best(lambda: (music,), FLOOR_WALK)
    rescan = best(lambda: (music, str(db_dir / "two.db")), SCAN)
    walk_again = best(lambda: (music,), FLOOR_WALK)
    walk_s = min(walk["seconds"], walk_again["seconds"])
    walk_cpu = min(walk["cpu_seconds"], walk_again["cpu_seconds"])

    n = floor1["files"]
    rate = lambda f: f["files"] / f["seconds"]  # noqa: E731
    cpu_rate = lambda f: f["files"] / f["cpu_seconds"]  # noqa: E731 (files per CPU-second)
    print(f"files: {n:,}  (cpus: {os.cpu_count()}; the machine is shared, so wall-clock figures "
          f"are noisy: ratios of CPU time are given too)")
    print(f"mutagen.File floor, 1 core      : {rate(floor1):8,.0f} files/s "
          f"({cpu_rate(floor1):,.0f} per CPU-s)")
    print(f"mutagen.File floor, 2 processes : {rate(floor2):8,.0f} files/s "
          f"({cpu_rate(floor2):,.0f} per CPU-s)")
    print(f"first scan, 1 reader, 1 core    : {rate(scan1):8,.0f} files/s  "
          f"= {rate(scan1) / rate(floor1):.2f} x the 1-core floor "
          f"(CPU: {cpu_rate(scan1) / cpu_rate(floor1):.2f} x; "
          f"{scan1['seconds']:.1f} s, {scan1['failed']} failed)")
    print(f"first scan, 2 readers           : {rate(scan2):8,.0f} files/s  "
          f"= {rate(scan2) / rate(floor1):.2f} x the 1-core floor, "
          f"{rate(scan2) / rate(floor2):.2f} x the 2-process floor  ({scan2['seconds']:.1f} s; "
          f"CPU: {cpu_rate(scan2) / cpu_rate(floor1):.2f} x the floor's files per CPU-s)")
    print(f"  projected first scan of 100,000 at this rate: {100_000 / rate(scan2):.1f} s")
    print(f"unchanged rescan                : {rescan['seconds']:.3f} s  "
          f"= {rescan['seconds'] / walk_s:.2f} x the scandir+stat floor ({walk_s:.3f} s; "
          f"CPU {rescan['cpu_seconds']:.3f} s vs {walk_cpu:.3f} s); "
          f"{rescan['unchanged']:,} unchanged")
    print(f"  projected unchanged rescan of 100,000: {rescan['seconds'] * 100_000 / n:.2f} s")
    print(f"peak memory, first scan (2 readers): scanner {scan2['self_rss_mb']:.0f} MB, "
          f"largest reader {scan2['children_rss_mb']:.0f} MB; "
          f"rescan: {rescan['self_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()

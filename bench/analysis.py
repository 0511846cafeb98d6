"""Benchmark the audio analysis against the naive librosa way and the decode floor.

    ./bench/run analysis.py                  # 40 generated 4-minute tracks
    ./bench/run analysis.py --tracks 8       # smaller, quicker

Prints figures, asserts nothing. On the same real-length tracks (generated music: chord
progressions over a beat with a little noise, 44.1 kHz stereo, in mp3, flac, ogg, opus
and m4a; cached between runs), measures:
- the decode floor: recommender.decode alone (the analysed window), one process;
- Timbre in one process: decode + extract, after a warm-up;
- the job (`timbre analyze`) with 1 and 2 worker processes, on a scanned database:
  wall time including worker start-up, and the steady rate from first to last track;
- the naive librosa way, one process and two: librosa.load of the whole track, then
  mfcc, chroma_stft, spectral_contrast, beat_track and rms, each from the signal;
- the ratios: naive / Timbre per track, Timbre / decode floor;
- the cost of the excerpt length (15, 30, 60 s) in one process, which chose 30 s.
"""

from __future__ import annotations

import argparse
import os

# Like the job's workers: one BLAS thread per process (set before numpy loads).
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

FORMATS = ("mp3", "flac", "ogg", "opus", "m4a")
SR_FILE = 44_100


def build_tracks(folder: Path, n: int, seconds: float) -> list[Path]:
    """Write n distinct generated tracks of the given length (reused when cached)."""
    from tests.media import chord, clicks, noise, write_audio

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"track{i:03d}-{int(seconds)}s.{FORMATS[i % len(FORMATS)]}"
        paths.append(path)
        if path.exists():
            continue
        rng = np.random.default_rng(i)
        bpm = float(rng.uniform(70, 170))
        root = 110.0 * 2 ** (int(rng.integers(0, 12)) / 12)
        bar_s = 4 * 60.0 / bpm
        degrees = [(1.0, 1.26, 1.5), (1.335, 1.68, 2.0), (1.5, 1.89, 2.245), (1.0, 1.26, 1.5)]
        bars = [chord([root * r for r in degrees[b % 4]], bar_s, sr=SR_FILE)
                for b in range(int(seconds / bar_s) + 1)]
        n_samples = int(seconds * SR_FILE)
        music = np.concatenate(bars)[:n_samples]
        music = music + 0.4 * clicks(bpm, seconds, sr=SR_FILE)[:n_samples]
        music = music + noise(seconds, sr=SR_FILE, amp=0.02, seed=i)[:n_samples]
        # a slightly different right channel, as real stereo
        stereo = np.stack([music, np.roll(music, 40) * 0.9], axis=1).astype(np.float32)
        if path.suffix == ".ogg":  # libsndfile 1.2 crashes writing minutes of Vorbis at once
            import soundfile as sf

            with sf.SoundFile(path, "w", SR_FILE, 2, format="OGG", subtype="VORBIS") as out:
                for at in range(0, len(stereo), 65_536):
                    out.write(stereo[at:at + 65_536])
        elif path.suffix == ".opus":  # Opus takes 48 kHz; tests.media resamples mono only
            import soxr

            write_audio(path, soxr.resample(stereo, SR_FILE, 48_000), 48_000)
        else:
            write_audio(path, stereo, SR_FILE)
    return paths


def decode_only(paths: list[Path]) -> float:
    """Return seconds per track to decode the analysed window."""
    from recommender.decode import decode

    start = time.perf_counter()
    for path in paths:
        decode(str(path))
    return (time.perf_counter() - start) / len(paths)


def ours_in_process(paths: list[Path], excerpt_s: float | None = None) -> float:
    """Return seconds per track for decode + extract in this process."""
    from recommender.decode import EXCERPT_S, SR_HZ, decode
    from recommender.features import extract, warm_up

    warm_up()
    start = time.perf_counter()
    for path in paths:
        extract(decode(str(path), excerpt_s=excerpt_s or EXCERPT_S).signal, SR_HZ)
    return (time.perf_counter() - start) / len(paths)


def ours_job(paths: list[Path], workers: int, workdir: Path) -> tuple[float, float]:
    """Run the job on a fresh scanned database; return (wall s, steady tracks/s)."""
    from player.scanner import scan
    from recommender.analysis import analyze

    db = workdir / f"bench-{workers}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    scan([paths[0].parent], db)
    stamps: list[float] = []

    def progress(done: int, total: int) -> None:
        if done:
            stamps.append(time.perf_counter())

    start = time.perf_counter()
    # niceness 0: measure throughput at the caller's priority on a shared machine
    report = analyze(db, workers=workers, progress=progress, niceness=0)
    wall = time.perf_counter() - start
    if report.failed:
        print(f"  (job: {len(report.failed)} failed: {report.failed[:2]})")
    steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
    return wall, steady


def naive_one(path: str) -> None:
    """Analyse one track the naive librosa way."""
    import warnings

    import librosa

    warnings.simplefilter("ignore")
    y, sr = librosa.load(path)  # the whole track, resampled to 22,050 Hz, mono
    librosa.feature.mfcc(y=y, sr=sr)
    librosa.feature.chroma_stft(y=y, sr=sr)
    librosa.feature.spectral_contrast(y=y, sr=sr)
    librosa.beat.beat_track(y=y, sr=sr)
    librosa.feature.rms(y=y)


def naive(paths: list[Path], workers: int) -> float:
    """Return the wall seconds for the naive way over paths with that many processes."""
    if workers == 1:
        naive_one(str(paths[0]))  # numba compiles once, outside the clock
        start = time.perf_counter()
        for path in paths:
            naive_one(str(path))
        return time.perf_counter() - start
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(naive_one, [str(paths[0])] * workers))  # warm up, outside the clock
        start = time.perf_counter()
        list(pool.map(naive_one, [str(p) for p in paths]))
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=40, help="tracks in the set (40)")
    parser.add_argument("--seconds", type=float, default=240.0, help="track length (240)")
    parser.add_argument("--naive-tracks", type=int, default=10,
                        help="tracks for the slow naive way (10)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path,
                        default=Path.home() / ".cache" / "timbre-bench" / "analysis")
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg is missing: run this through ./bench/run, which installs it")
    os.environ.setdefault("NUMBA_CACHE_DIR", str(args.cache / "numba"))

    t0 = time.perf_counter()
    paths = build_tracks(args.cache / f"set-{int(args.seconds)}s", args.tracks, args.seconds)
    # The scan takes the whole folder: keep only this run's tracks in it.
    folder = args.cache / f"run-{args.tracks}x{int(args.seconds)}s"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for p in paths:
        os.link(p, folder / p.name)
    paths = sorted(folder.iterdir())
    print(f"set: {len(paths)} tracks of {args.seconds:.0f} s, formats {', '.join(FORMATS)} "
          f"({time.perf_counter() - t0:.0f} s to build or load); {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")

    floor = decode_only(paths)
    single = ours_in_process(paths)
    with tempfile.TemporaryDirectory() as tmp:
        wall_1, steady_1 = ours_job(paths, 1, Path(tmp))
        wall_n, steady_n = ours_job(paths, args.workers, Path(tmp))
    subset = paths[: max(1, min(args.naive_tracks, len(paths)))]
    naive_1 = naive(subset, 1) / len(subset)
    naive_n = naive(subset, args.workers)

    print()
    print(f"{'method':52s} {'s/track':>8s} {'tracks/s':>9s}")
    print(f"{'decode floor (30 s window), 1 process':52s} {floor:8.3f} {1 / floor:9.1f}")
    print(f"{'Timbre decode + extract, 1 process':52s} {single:8.3f} {1 / single:9.1f}")
    print(f"{'Timbre job, 1 worker, wall incl. start-up':52s} {wall_1 / len(paths):8.3f} "
          f"{len(paths) / wall_1:9.1f}")
    print(f"{'Timbre job, 1 worker, steady':52s} {1 / steady_1:8.3f} {steady_1:9.1f}")
    label = f"Timbre job, {args.workers} workers"
    print(f"{label + ', wall incl. start-up':52s} {wall_n / len(paths):8.3f} "
          f"{len(paths) / wall_n:9.1f}")
    print(f"{label + ', steady':52s} {1 / steady_n:8.3f} {steady_n:9.1f}")
    print(f"{f'naive librosa ({len(subset)} tracks), 1 process':52s} {naive_1:8.3f} "
          f"{1 / naive_1:9.2f}")
    label = f"naive librosa ({len(subset)} tracks), {args.workers} processes"
    print(f"{label:52s} {naive_n / len(subset):8.3f} {len(subset) / naive_n:9.2f}")
    print()
    print(f"naive / Timbre per track, 1 process:       {naive_1 / single:6.1f}x")
    print(f"naive / Timbre, {args.workers} processes (steady):     "
          f"{(naive_n / len(subset)) * steady_n:6.1f}x")
    print(f"Timbre / decode floor, 1 process:          {single / floor:6.1f}x")
    print(f"10,000 tracks at the {args.workers}-worker steady rate:    "
          f"{10_000 / steady_n / 60:6.1f} min")
    print()
    few = paths[: min(len(paths), 10)]
    for excerpt in (15.0, 30.0, 60.0):
        print(f"excerpt {excerpt:4.0f} s: {ours_in_process(few, excerpt):.3f} s/track "
              "(1 process, decode + extract)")


if __name__ == "__main__":
    main()

"""Evaluate Play similar on real music the team did not make: precision@10 by label.

The music21 package ships a corpus of real scores. We render a few hundred of them with
fluidsynth and a General MIDI soundfont (Debian's fluid-soundfont-gm), giving every part
of every piece an instrument drawn at random from one shared pool, so that the label
(the composer or collection) cannot be read off the instrumentation: a method only scores
if it hears style (harmony, rhythm, texture). Each track's 10 nearest neighbours are
ranked and we report the share with the same label, for:

- chance (the expected share for a random ranking, from the label counts);
- the baseline: the mean and spread of a 128-band log-mel spectrogram, cosine kNN;
- Timbre: the product's own analysis (recommender.analysis) and similarity
  (recommender.similarity), audio only (the tracks carry no tags).

A second table measures the learned sound space (recommender.metric): half of each
label's pieces (seeded) carry the label as their genre tag, as a user's tagged library
would; the other half is untagged, and only it is queried, with neighbours among it only,
so the tags themselves cannot match anything: any gain is the sound space learned from
the tagged half. Chance, the baseline and Timbre without tags are given on the same half.

Run: ./bench/run eval_similarity.py [--per-label 45] [--cache DIR]
Renders are cached (default ~/.cache/timbre-bench/music21), so a second run is quick.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SR = 22_050
MAX_SECONDS = 90.0
SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
)
# One pool for every label: GM programs of instruments that can play any of the styles.
INSTRUMENT_POOL = (0, 6, 11, 19, 24, 40, 42, 48, 52, 56, 68, 71, 73)

# label -> corpus folder(s); each label is one composer or collection.
LABELS: dict[str, tuple[str, ...]] = {
    "Bach chorales": ("bach",),
    "Palestrina": ("palestrina",),
    "Monteverdi madrigals": ("monteverdi",),
    "Trecento": ("trecento",),
    "Ryan's Mammoth (fiddle tunes)": ("ryansMammoth",),
    "Classical string quartets": ("beethoven", "mozart", "haydn"),
    "O'Neill's Irish folk": ("oneills1850",),
}


def _soundfont() -> Path:
    for candidate in SOUNDFONT_CANDIDATES:
        if Path(candidate).exists():
            return Path(candidate)
    sys.exit("no General MIDI soundfont: apt-get install fluid-soundfont-gm (./bench/run does)")


def _scores_for(folder: str, want: int, rng: random.Random) -> list[tuple[str, object]]:
    """Return up to `want` (name, music21 Score) from one corpus folder."""
    from music21 import corpus, stream

    # Scores only: .rntxt files are harmonic analyses (block chords), not the music itself.
    paths = [p for p in corpus.getCorePaths() if f"/corpus/{folder}/" in str(p)
             and p.suffix in (".mxl", ".xml", ".musicxml", ".krn", ".abc", ".mid")]
    rng.shuffle(paths)
    out: list[tuple[str, object]] = []
    for path in paths:
        if len(out) >= want:
            break
        try:
            parsed = corpus.parse(path)
        except Exception as exc:  # a few corpus files do not parse; skip them
            print(f"  skip {Path(path).name}: {exc}", file=sys.stderr)
            continue
        scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
        # The path under the folder names the piece: quartets keep their movements in
        # subfolders (opus18no1/movement1.mxl), and the stem alone would give every
        # quartet's first movement one name.
        under = Path(str(path).split(f"/corpus/{folder}/", 1)[1]).with_suffix("")
        for i, score in enumerate(scores):
            if score.highestTime < 16:  # too short to say anything
                continue
            out.append((f"{folder}-{'-'.join(under.parts)}-{i}", score))
            if len(out) >= want:
                break
    return out


def _sane_tempo(score: object) -> None:
    """Keep one tempo for the whole piece: its first mark, clamped to 40-200 bpm.

    Some corpus files carry tempo changes that MIDI export turns into hours of silence.
    """
    from music21 import tempo

    marks = list(score.recurse().getElementsByClass(tempo.MetronomeMark))  # type: ignore[attr-defined]
    bpm = min(200.0, max(40.0, (marks[0].getQuarterBPM() or 100.0) if marks else 100.0))
    for mark in marks:
        mark.activeSite.remove(mark)
    score.parts[0].insert(0, tempo.MetronomeMark(number=bpm))  # type: ignore[attr-defined]


def _fluidsynth_raw(midi: Path, raw: Path, soundfont: Path) -> np.ndarray:
    """Render headerless 16-bit stereo, stopping at MAX_SECONDS: some files render for hours."""
    limit_bytes = int(MAX_SECONDS * SR) * 4
    proc = subprocess.Popen(
        ["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(SR), "-T", "raw", "-F", str(raw),
         str(soundfont), str(midi)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while proc.poll() is None:
        if (raw.exists() and raw.stat().st_size >= limit_bytes) or time.monotonic() > deadline:
            proc.kill()
            break
        time.sleep(0.05)
    proc.wait()
    data = np.fromfile(raw, dtype="<i2")[: limit_bytes // 2]
    return (data[: data.size // 2 * 2].reshape(-1, 2).astype(np.float32)) / 32768.0


def _render(score: object, out: Path, soundfont: Path, rng: random.Random) -> bool:
    """Render one score to a mono wav with random instruments; False if it fails."""
    from music21 import instrument

    try:
        if score.highestTime > 240:  # type: ignore[attr-defined]
            # only the opening is heard (MAX_SECONDS): skip exporting the rest
            score = score.measures(1, 60)  # type: ignore[attr-defined]
        _sane_tempo(score)
        for note in score.recurse().notes:  # type: ignore[attr-defined]
            note.lyrics = []  # a General MIDI synth does not sing them
        for part in score.parts:  # type: ignore[attr-defined]
            part.removeByClass("Instrument")
            part.insert(0, instrument.instrumentFromMidiProgram(rng.choice(INSTRUMENT_POOL)))
        with tempfile.TemporaryDirectory() as tmp:
            midi = Path(tmp) / "piece.mid"
            raw = Path(tmp) / "piece.raw"
            score.write("midi", fp=str(midi))  # type: ignore[attr-defined]
            audio = _fluidsynth_raw(midi, raw, soundfont)
        mono = audio.mean(axis=1)[: int(MAX_SECONDS * SR)]
        if np.max(np.abs(mono), initial=0.0) < 1e-4:
            return False
        sf.write(out, mono / max(1e-6, float(np.max(np.abs(mono)))) * 0.8, SR, subtype="PCM_16")
        return True
    except Exception as exc:
        print(f"  render failed: {exc}", file=sys.stderr)
        return False


def build_set(cache: Path, per_label: int, seed: int) -> list[tuple[Path, str]]:
    """Render (or reuse) per_label pieces for each label; return (wav, label) pairs."""
    soundfont = _soundfont()
    items: list[tuple[Path, str]] = []
    for label, folders in LABELS.items():
        # A label of several folders (the quartets) is cached under their names: an older
        # cache held its pieces under names that several movements shared.
        folder_dir = cache / (label.split(" ")[0].lower().strip("'") if len(folders) == 1
                              else "-".join(folders))
        folder_dir.mkdir(parents=True, exist_ok=True)
        existing = sorted(folder_dir.glob("*.wav"))
        if len(existing) >= per_label:
            items += [(p, label) for p in existing[:per_label]]
            continue
        rng = random.Random(f"{seed}-{label}")
        want_each = -(-per_label // len(folders))
        scores = [s for f in folders for s in _scores_for(f, want_each, rng)]
        made = 0
        seen: set[Path] = set()
        for name, score in scores:
            out = folder_dir / f"{name}.wav"
            if out in seen:  # the corpus has some pieces twice (e.g. .mxl and .krn)
                continue
            seen.add(out)
            if out.exists() or _render(score, out, soundfont, rng):
                items.append((out, label))
                made += 1
            if made >= per_label:
                break
        print(f"  {label}: {made} pieces", file=sys.stderr)
    return items


def logmel_baseline(paths: list[Path], excerpt: bool = False) -> np.ndarray:
    """Return the baseline vectors: mean and std of a 128-band log-mel spectrogram.

    excerpt: of the same 30 s Timbre analyses (recommender.decode), not the whole render.
    """
    import librosa

    from recommender.decode import SR_HZ, decode

    rows = []
    for path in paths:
        if excerpt:
            y, sr = decode(str(path)).signal, SR_HZ
        else:
            y, sr = sf.read(path, dtype="float32")
        mel = librosa.feature.melspectrogram(y=y, sr=sr, n_mels=128)
        logmel = librosa.power_to_db(mel)
        rows.append(np.concatenate([logmel.mean(axis=1), logmel.std(axis=1)]))
    return np.asarray(rows, dtype=np.float32)


def precision_at_k_cosine(vectors: np.ndarray, labels: list[str], k: int = 10) -> float:
    """Return the mean share of same-label tracks among each track's k cosine neighbours."""
    return _precision_from_scores(_cosine(vectors), labels, k)


def _precision_from_scores(scores: np.ndarray, labels: list[str], k: int) -> float:
    return float(np.mean(_per_query(scores, labels, k)))


def _per_query(scores: np.ndarray, labels: list[str], k: int = 10) -> np.ndarray:
    """Return each query's share of same-label tracks among its k best-scored."""
    lab = np.asarray(labels)
    top = np.argsort(-scores, axis=1)[:, :k]
    return np.asarray(np.mean(lab[top] == lab[:, None], axis=1))


def ratio_interval(ours: np.ndarray, base: np.ndarray, seed: int,
                   resamples: int = 2000) -> tuple[float, float]:
    """Return the 95% bootstrap interval of mean(ours) / mean(base), the queries
    resampled in pairs (how much the ratio owes to which pieces happen to be in the set)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, ours.size, (resamples, ours.size))
    ratios = ours[idx].mean(axis=1) / np.maximum(base[idx].mean(axis=1), 1e-12)
    low, high = np.percentile(ratios, [2.5, 97.5])
    return float(low), float(high)


def chance_precision(labels: list[str]) -> float:
    """Return the expected precision@k of a random ranking."""
    counts = np.array(list(Counter(labels).values()), dtype=float)
    n = counts.sum()
    return float(np.sum(counts / n * (counts - 1) / (n - 1)))


def half_tagged(labels: list[str], seed: int) -> dict[int, str]:
    """Return index -> label for half of each label's pieces (seeded): the tagged half."""
    rng = random.Random(f"{seed}-tags")
    tagged: dict[int, str] = {}
    for label in sorted(set(labels)):
        mine = [i for i, x in enumerate(labels) if x == label]
        rng.shuffle(mine)
        tagged.update({i: label for i in mine[: len(mine) // 2]})
    return tagged


def _subset_precision(scores: np.ndarray, labels: list[str], rows: list[int], k: int = 10) -> float:
    """Return precision@k of the given query rows, neighbours among those rows only."""
    sub = scores[np.ix_(rows, rows)].copy()
    np.fill_diagonal(sub, -np.inf)
    return _precision_from_scores(sub, [labels[i] for i in rows], k)


def _by_label(labels: list[str], methods: dict[str, np.ndarray], k: int = 10) -> None:
    """Print each label's precision@k per method and its most frequent wrong label."""
    lab = np.asarray(labels)
    names = list(methods)
    print(f"{'label':32s} {'pieces':>6s} " + " ".join(f"{m:>9s}" for m in names)
          + "   most often mistaken for (share of Timbre's neighbours)")
    tops = {m: np.argsort(-scores, axis=1)[:, :k] for m, scores in methods.items()}
    for label in sorted(set(labels)):
        mine = lab == label
        cells = " ".join(f"{np.mean(lab[tops[m][mine]] == label):9.3f}" for m in names)
        wrong = Counter(lab[tops[names[-1]][mine]].ravel())
        wrong.pop(label, None)
        other, count = wrong.most_common(1)[0] if wrong else ("-", 0)
        share = count / max(1, int(mine.sum()) * k)
        print(f"{label:32s} {int(mine.sum()):6d} {cells}   {other} ({share:.2f})")


def _cosine(vectors: np.ndarray) -> np.ndarray:
    """Return the centred cosine of every pair of rows, -inf on the diagonal."""
    x = vectors - vectors.mean(axis=0)
    x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-9
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    return sims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-label", type=int, default=45)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--cache", type=Path, default=Path.home() / ".cache" / "timbre-bench" / "music21"
    )
    args = parser.parse_args()
    if shutil.which("fluidsynth") is None:
        sys.exit("fluidsynth is missing: run this through ./bench/run, which installs it")

    t0 = time.perf_counter()
    items = build_set(args.cache, args.per_label, args.seed)
    paths = [p for p, _ in items]
    labels = [label for _, label in items]
    print(f"set: {len(paths)} rendered pieces, {len(set(labels))} labels "
          f"({time.perf_counter() - t0:.0f} s to build or load)")
    for label, count in sorted(Counter(labels).items()):
        print(f"  {count:4d}  {label}")

    chance = chance_precision(labels)
    t1 = time.perf_counter()
    base_vectors = logmel_baseline(paths)
    baseline = precision_at_k_cosine(base_vectors, labels)
    baseline_s = time.perf_counter() - t1
    baseline_30 = precision_at_k_cosine(logmel_baseline(paths, excerpt=True), labels)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _eval_product import analyse_set, engine_scores

    with tempfile.TemporaryDirectory() as tmp:
        engine, ids, timbre_s = analyse_set(paths, Path(tmp))
        plain_scores = engine_scores(engine, ids)
        ours = _precision_from_scores(plain_scores, labels, 10)
        # Learned metric: half of each label's pieces carry it as their genre tag, as in
        # a user's library; measured on the other, untagged half, neighbours among it only.
        tagged = half_tagged(labels, args.seed)
        rest = [i for i in range(len(paths)) if i not in tagged]
        plain_half = _subset_precision(engine_scores(engine, ids, set(rest)), labels, rest)
    with tempfile.TemporaryDirectory() as tmp:
        engine, ids, _ = analyse_set(paths, Path(tmp), genres=tagged)
        learned_half = _subset_precision(engine_scores(engine, ids, set(rest)), labels, rest)
        metric = engine.snapshot().sim.metric_
    chance_half = chance_precision([labels[i] for i in rest])
    baseline_half = _subset_precision(_cosine(base_vectors), labels, rest)

    def row(name: str, value: float, ref: float, seconds: str = "") -> None:
        print(f"{name:52s} {value:12.3f} {value / ref:10.2f} {seconds:>8s}")

    print()
    print(f"All {len(paths)} pieces, no tags anywhere (audio only):")
    print(f"{'method':52s} {'precision@10':>12s} {'vs chance':>10s} {'seconds':>8s}")
    row("chance", chance, chance)
    row("baseline: log-mel mean+std, cosine kNN", baseline, chance, f"{baseline_s:.1f}")
    row("baseline on the 30 s Timbre analyses", baseline_30, chance)
    row("Timbre: analysis + Play similar", ours, chance, f"{timbre_s:.1f}")
    low, high = ratio_interval(_per_query(plain_scores, labels),
                               _per_query(_cosine(base_vectors), labels), args.seed)
    print(f"Timbre / baseline: {ours / baseline:.2f}x "
          f"({ours / baseline_30:.2f}x against the baseline on the same 30 s; 95% bootstrap "
          f"interval over the queries {low:.2f}x-{high:.2f}x)")
    print()
    print("By label: precision@10, and where the other neighbours come from")
    _by_label(labels, {"baseline": _cosine(base_vectors), "Timbre": plain_scores})
    print()
    print(f"Half of each label tagged with it as the genre; the {len(rest)} untagged pieces "
          "are queried, neighbours among them only:")
    row("chance", chance_half, chance_half)
    row("baseline: log-mel mean+std, cosine kNN", baseline_half, chance_half)
    row("Timbre, no tags (as above)", plain_half, chance_half)
    row("Timbre, sound space learned from the genre tags", learned_half, chance_half)
    if metric is None:
        print("  (the learned space was not used: it did not pass its held-out check)")
    else:
        print(f"  learned from {metric.tracks} tagged pieces, {len(metric.genres)} genres; "
              f"its held-out check: same-genre precision@10 {metric.precision_before:.3f} "
              f"-> {metric.precision_after:.3f}")
    print(f"Timbre learned / baseline: {learned_half / baseline_half:.2f}x")

if __name__ == "__main__":
    main()

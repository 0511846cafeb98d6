"""How the music moves over the analysed excerpt: the "structure" feature group.

The other groups describe what an excerpt sounds like on average; these describe how it
changes. All are read from the semitone spectrogram the texture features already use, so
they cost a few milliseconds, and none depends on which instruments play:

- level, voices and register contours: how much the level (dB), the number of voices and
  the mean pitch of the voices vary within each window, smoothed over 0.25, 1 and 3 s
  (fast swells and ornaments against slow arcs), and how much their typical value
  differs between the windows (a quiet verse and a loud chorus, a solo and a tutti);
- harmony: how alike the pitch classes of the windows are (one key and mode throughout,
  or sections that move away), and of adjacent 1 s stretches (harmonic rhythm);
- pauses: the share of frames 20 and 40 dB under the excerpt's peak, and the spread of
  the level between its 30th and 90th percentiles;
- recurrence: how alike the pitch content is 0.1, 0.25, 0.5, 1, 2 and 4 s apart (held
  chords and repeated figures against lines that keep moving).

The excerpt is recommender.decode's five windows joined; each is read on its own (a
comparison across a join would compare two parts of the track that are not adjacent).
Measured with bench/eval_similarity.py (features version 5): precision@10 0.667 -> 0.681
on 301 pieces and 0.671 -> 0.695 on 536; 0.681 -> 0.693 on the 235 of those outside the
first 301; the madrigals gain most, then the chorales, the quartets and the Trecento.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage

from recommender.decode import WINDOW_CENTRES

WINDOWS = len(WINDOW_CENTRES)  # the excerpt's parts, each read on its own
SMOOTHING_S = (0.25, 1.0, 3.0)
NEXT_S = (1.0,)  # (3 s pairs do not fit in a 6 s window once its edges are trimmed)
RECURRENCE_S = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
_CONTOURS = ("level", "voices", "register")
_LABEL = {0.1: "100ms", 0.25: "250ms", 0.5: "500ms", 1.0: "1s", 2.0: "2s", 3.0: "3s", 4.0: "4s"}

COLUMNS: list[str] = (
    [f"{c}_sd_{_LABEL[s]}" for c in _CONTOURS for s in SMOOTHING_S]
    + [f"{c}_between_sd" for c in _CONTOURS]
    + ["harmony_between_sim"] + [f"harmony_next_{_LABEL[s]}" for s in NEXT_S]
    + ["quiet_20db", "quiet_40db", "level_spread_db"]
    + [f"recurrence_{_LABEL[s]}" for s in RECURRENCE_S]
)
"""The group's columns, in the order of the stored vector."""


def describe(semis: np.ndarray, midi: np.ndarray, frame_power: np.ndarray,
             frames_per_s: float) -> dict[str, float]:
    """Return the structure columns of one excerpt.

    Args:
        semis: the semitone spectrogram, (len(midi), frames): power per semitone band.
        midi: the MIDI note of each band.
        frame_power: the total power of each frame, (frames,).
        frames_per_s: the spectrogram's frame rate.
    """
    n = semis.shape[1]
    out = dict.fromkeys(COLUMNS, 0.0)
    level = semis.sum(axis=0)
    loud = level > max(float(np.percentile(level, 30)), 1e-10) if n else np.zeros(0, bool)
    if int(loud.sum()) < 2:  # a click or a drone start: nothing moves
        return out
    # Voices: semitone peaks within 10 dB of the frame's strongest (as the texture group).
    rel = semis / np.maximum(semis.max(axis=0, keepdims=True), 1e-20)
    peaks = (rel[1:-1] > rel[:-2]) & (rel[1:-1] > rel[2:]) & (rel[1:-1] > 0.1)
    weights = np.where(peaks, rel[1:-1], 0.0)
    voiced = weights.sum(axis=0)
    inner = midi[1:-1].astype(np.float64)
    contours = {
        "level": 10.0 * np.log10(frame_power + 1e-12),
        "voices": peaks.sum(axis=0).astype(np.float64),
        "register": (inner @ weights) / np.maximum(voiced, 1e-12),
    }
    edges = np.rint(np.arange(WINDOWS + 1) * n / WINDOWS).astype(int)
    # Two frames off each end: the STFT frames at a join hear both windows.
    parts = [(a + 2, b - 2) for a, b in zip(edges[:-1], edges[1:], strict=True) if b - a > 4]
    for name, series in contours.items():
        usable = loud & (voiced > 0) if name == "register" else loud
        _contour(out, name, series, usable, parts, frames_per_s)
    pcs = _fold(midi[1:-1]) @ weights
    pcs /= np.maximum(np.linalg.norm(pcs, axis=0, keepdims=True), 1e-12)
    _harmony(out, pcs, loud, parts, frames_per_s)
    peak_db = float(np.percentile(contours["level"], 99))
    out["quiet_20db"] = float(np.mean(contours["level"] < peak_db - 20.0))
    out["quiet_40db"] = float(np.mean(contours["level"] < peak_db - 40.0))
    out["level_spread_db"] = float(np.percentile(contours["level"], 90)
                                   - np.percentile(contours["level"], 30))
    # Recurrence on every semitone band (not only the peaks): held sounds count too.
    spread = _fold(midi) @ np.sqrt(semis)
    spread /= np.maximum(np.linalg.norm(spread, axis=0, keepdims=True), 1e-12)
    _recurrence(out, spread, loud, edges, frames_per_s)
    return out


def _fold(midi: np.ndarray) -> np.ndarray:
    """Return the (12, bands) matrix that sums semitone bands into pitch classes."""
    return np.eye(12)[:, midi.astype(int) % 12]


def _contour(out: dict[str, float], name: str, series: np.ndarray, usable: np.ndarray,
             parts: list[tuple[int, int]], frames_per_s: float) -> None:
    """Variation of one per-frame series within each window (smoothed) and between them."""
    typical = [float(np.median(series[a:b][usable[a:b]])) for a, b in parts if usable[a:b].any()]
    out[f"{name}_between_sd"] = float(np.std(typical)) if typical else 0.0
    for seconds in SMOOTHING_S:
        k = max(1, int(seconds * frames_per_s))
        spreads = []
        for a, b in parts:
            seg, ok = series[a:b], usable[a:b]
            if int(ok.sum()) < k + 2:
                continue
            # a running mean over the usable frames only: rests do not drag it down
            total = scipy.ndimage.uniform_filter1d(np.where(ok, seg, 0.0), k)
            share = scipy.ndimage.uniform_filter1d(ok.astype(np.float64), k)
            smooth = (total / np.maximum(share, 1e-9))[share > 0.5]
            if len(smooth) > 2:
                spreads.append(float(smooth.std()))
        out[f"{name}_sd_{_LABEL[seconds]}"] = float(np.mean(spreads)) if spreads else 0.0


def _harmony(out: dict[str, float], pcs: np.ndarray, loud: np.ndarray,
             parts: list[tuple[int, int]], frames_per_s: float) -> None:
    """How alike the windows' pitch classes are, and those of adjacent stretches."""
    profiles = [pcs[:, a:b][:, loud[a:b]].mean(axis=1) for a, b in parts if loud[a:b].any()]
    if len(profiles) > 1:
        p = np.array(profiles)
        p /= np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)
        out["harmony_between_sim"] = float((p @ p.T)[np.triu_indices(len(p), 1)].mean())
    else:
        out["harmony_between_sim"] = 1.0
    for seconds in NEXT_S:
        k = max(2, int(seconds * frames_per_s))
        sims = []
        for a, b in parts:
            x, ok = pcs[:, a:b], loud[a:b]
            for start in range(0, x.shape[1] - 2 * k + 1, k // 2):
                first, second = ok[start:start + k], ok[start + k:start + 2 * k]
                if first.sum() > k / 3 and second.sum() > k / 3:
                    p = x[:, start:start + k][:, first].mean(axis=1)
                    q = x[:, start + k:start + 2 * k][:, second].mean(axis=1)
                    sims.append(float(p @ q / max(np.linalg.norm(p) * np.linalg.norm(q), 1e-12)))
        out[f"harmony_next_{_LABEL[seconds]}"] = float(np.mean(sims)) if sims else 1.0


def _recurrence(out: dict[str, float], pcs: np.ndarray, loud: np.ndarray, edges: np.ndarray,
                frames_per_s: float) -> None:
    """Mean cosine of pitch-class frames a fixed time apart, within each window."""
    for seconds in RECURRENCE_S:
        k = int(round(seconds * frames_per_s))
        sims = []
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            if k < 1 or k >= b - a:
                continue
            x, ok = pcs[:, a:b], loud[a:b]
            both = ok[:-k] & ok[k:]
            sims.append(np.sum(x[:, :-k] * x[:, k:], axis=0)[both])
        values = np.concatenate(sims) if sims else np.zeros(0)
        out[f"recurrence_{_LABEL[seconds]}"] = float(values.mean()) if values.size else 0.0

"""Decode the analysed excerpt of a track: mono float32 at 22,050 Hz, one open per file.

Only 30 s of the track are decoded, as five 6 s windows spread over it (at 10%, 30%, 50%,
70% and 90%) and joined: measured on 4-minute tracks, decoding the whole file costs more
than all the feature extraction on 30 s, so reading just the windows is where most of
the analysis speed comes from; and windows spread over a piece describe it better than
one window of the same length (bench/eval_similarity.py: precision@10 about 0.54 with
30 s from the middle, 0.597 with three 10 s windows at features version 2; at version 3,
five 6 s windows gained 0.047 on 229 pieces the features were not chosen on). libsndfile
(soundfile) seeks straight to each window for WAV, FLAC, AIFF, Ogg Vorbis and MP3; m4a,
Opus (libsndfile fails on most ffmpeg-encoded Opus) and whatever libsndfile rejects go
through an ffmpeg pipe that seeks on the input side.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr

SR_HZ = 22_050
EXCERPT_S = 30.0
"""Length of the analysed excerpt; a track up to this long is analysed whole."""
WINDOW_CENTRES = (0.1, 0.3, 0.5, 0.7, 0.9)
"""Where the windows of the excerpt sit, as fractions of the track."""

MIN_AUDIO_S = 1.0
"""Less decoded audio than this is an error: too short to say anything about."""

FFMPEG_TIMEOUT_S = 60.0

# Containers libsndfile never reads: go straight to ffmpeg, skipping a failed open.
_FFMPEG_ONLY = frozenset({".m4a", ".mp4", ".m4b", ".aac", ".alac", ".opus", ".wma", ".asf",
                          ".ape", ".spx", ".wv", ".mpc", ".webm", ".mka"})


class DecodeError(Exception):
    """The file cannot be decoded; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class Excerpt:
    """A decoded window of a track."""

    signal: np.ndarray  # float32, shape (n,), mono, at SR_HZ: the windows joined
    start_s: float  # where the first window starts in the track
    duration_s: float | None  # the whole track's length, when known
    decoder: str  # soundfile | ffmpeg


def windows(duration_s: float | None,
            excerpt_s: float = EXCERPT_S) -> list[tuple[float, float]]:
    """Return the (start_s, length_s) windows to analyse in a track of that length.

    Windows sharing excerpt_s, centred at WINDOW_CENTRES of the track (the first and
    last clear of most intros and fade-outs); a track no longer than excerpt_s, or of
    unknown length, is one window from the start.
    """
    if duration_s is None or not np.isfinite(duration_s) or duration_s <= excerpt_s:
        return [(0.0, excerpt_s)]
    length = excerpt_s / len(WINDOW_CENTRES)
    return [(min(max(0.0, c * duration_s - length / 2), duration_s - length), length)
            for c in WINDOW_CENTRES]


def decode(path: str | bytes, duration_s: float | None = None, *,
           excerpt_s: float = EXCERPT_S, timeout_s: float = FFMPEG_TIMEOUT_S) -> Excerpt:
    """Decode the analysed window of the file at path (mono, SR_HZ).

    Args:
        path: the file (bytes for a file name that is not valid UTF-8).
        duration_s: the track's length if already known (the library stores it); only
            the ffmpeg path needs it, and probes the file when it is missing.
    Raises:
        DecodeError: the file cannot be read, or holds less than MIN_AUDIO_S of audio.
    """
    suffix = os.path.splitext(os.fsdecode(path))[1].lower()
    try:
        info = os.stat(path)
    except OSError as exc:
        raise DecodeError(f"cannot open the file: {exc.strerror or exc}") from exc
    if stat.S_ISREG(info.st_mode) and info.st_size == 0:
        raise DecodeError("the file is empty (0 bytes)")
    if suffix not in _FFMPEG_ONLY:
        try:
            return _decode_soundfile(path, excerpt_s)
        except (sf.LibsndfileError, RuntimeError, ValueError, TypeError, DecodeError) as exc:
            sf_error = getattr(exc, "error_string", None) or str(exc)  # e.g. a codec libsndfile lacks: try ffmpeg before failing
        except OSError as exc:
            raise DecodeError(f"cannot open the file: {exc.strerror or exc}") from exc
    else:
        sf_error = ""
    try:
        return _decode_ffmpeg(path, duration_s, excerpt_s, timeout_s)
    except DecodeError as exc:
        if sf_error and sf_error != str(exc):  # the same words twice tell the user nothing
            raise DecodeError(f"{exc} (libsndfile: {sf_error})") from exc
        raise


def _decode_soundfile(path: str | bytes, excerpt_s: float) -> Excerpt:
    """Seek to the window with libsndfile and read only it."""
    # A Python file object, so that file names which are not valid UTF-8 open too.
    with open(path, "rb") as raw, sf.SoundFile(raw) as f:
        rate = f.samplerate
        frames = f.frames
        if rate <= 0:
            raise ValueError(f"invalid sample rate {rate}")
        if not 0 < frames < 2**62:  # e.g. some Ogg Vorbis files: no length, no seeking
            raise ValueError("libsndfile cannot tell the length of this file")
        duration_s = frames / rate
        spans = windows(duration_s, excerpt_s)
        parts = []
        for start_s, length_s in spans:
            f.seek(int(start_s * rate))
            parts.append(f.read(int(length_s * rate), dtype="float32", always_2d=True))
    return Excerpt(_to_mono_sr(np.concatenate(parts), rate), spans[0][0], duration_s,
                   "soundfile")


def _decode_ffmpeg(path: str | bytes, duration_s: float | None, excerpt_s: float,
                   timeout_s: float) -> Excerpt:
    """Decode the window through an ffmpeg pipe, seeking on the input side."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise DecodeError("this format needs ffmpeg, which is not installed")
    if duration_s is None:
        duration_s = probe_duration(path)
    spans = windows(duration_s, excerpt_s)
    # One process, one input per window (each seeking on the input side), joined.
    cmd: list[str | bytes] = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error"]
    for start_s, length_s in spans:
        cmd += ["-ss", f"{start_s:.3f}", "-t", f"{length_s:.3f}", "-i", path]
    if len(spans) > 1:
        joined = "".join(f"[{i}:a:0]" for i in range(len(spans)))
        cmd += ["-filter_complex", f"{joined}concat=n={len(spans)}:v=0:a=1[out]",
                "-map", "[out]"]
    else:
        cmd += ["-vn", "-sn", "-dn"]
    cmd += ["-f", "f32le", "-ac", "1", "-ar", str(SR_HZ), "-"]
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise DecodeError(f"ffmpeg did not finish decoding in {timeout_s:.0f} s") from exc
    signal = np.frombuffer(proc.stdout[: len(proc.stdout) // 4 * 4], dtype="<f4")
    if proc.returncode != 0 and len(signal) < MIN_AUDIO_S * SR_HZ:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = message[0] if message else f"exit status {proc.returncode}"
        name = os.fsdecode(path)
        if reason.startswith(name + ": "):  # ffmpeg names the file; the caller knows it
            reason = reason[len(name) + 2:]
        raise DecodeError(f"ffmpeg cannot decode the file: {reason[:300]}")
    return Excerpt(_checked(signal.astype(np.float32)), spans[0][0], duration_s, "ffmpeg")


def probe_duration(path: str | bytes) -> float | None:
    """Return the track's length in seconds as the container states it, or None."""
    import mutagen  # only files the library has no length for get here

    try:
        info = mutagen.File(path)
    except Exception:  # noqa: BLE001 (untrusted file: any failure means "unknown")
        return None
    length = getattr(getattr(info, "info", None), "length", None)
    return float(length) if length and np.isfinite(length) and length > 0 else None


def _to_mono_sr(data: np.ndarray, rate: int) -> np.ndarray:
    """Mix (n, channels) down to mono and resample to SR_HZ."""
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if rate != SR_HZ and len(mono):
        mono = soxr.resample(mono, rate, SR_HZ, quality="HQ")
    return _checked(np.ascontiguousarray(mono, dtype=np.float32))


def _checked(signal: np.ndarray) -> np.ndarray:
    """Return signal if it is long enough and finite, else raise DecodeError."""
    if len(signal) == 0:
        raise DecodeError("no audio could be decoded (a truncated or damaged file)")
    if len(signal) < MIN_AUDIO_S * SR_HZ:
        raise DecodeError(f"only {len(signal) / SR_HZ:.2f} s of audio could be decoded")
    if not np.all(np.isfinite(signal)):
        signal = np.nan_to_num(signal, nan=0.0, posinf=0.0, neginf=0.0)
    return signal

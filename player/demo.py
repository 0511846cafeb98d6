"""The demo library: a few dozen short tracks made on the spot in clearly different styles.

A new user with no music anywhere can try Timbre at once: the tracks are real tagged
FLAC files with embedded cover art, so scanning, analysis and recommendations work on
them exactly as on a real collection. Six "artists" each play one style (slow piano,
club electronic, noisy rock, swing jazz, ambient drone, folk picking) that differ in
tempo, timbre and harmony, so "Play similar" visibly keeps to a style.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from mutagen.flac import FLAC, Picture

from player.paths import data_dir

SR = 22_050
TRACK_SECONDS = 15.0
RELEASE_S = 0.03  # seconds of fade at the end of every note
TRACKS_PER_STYLE = 6

ProgressFn = Callable[[int, int], None]

# Semitone offsets of chord qualities from the root.
_MAJOR = (0, 4, 7)
_MINOR = (0, 3, 7)
_SEVENTH = (0, 4, 7, 10)
_MINOR7 = (0, 3, 7, 10)


@dataclass(frozen=True, slots=True)
class Style:
    """One demo artist's sound."""

    artist: str
    album: str
    genre: str
    bpm: float
    color: tuple[int, int, int]
    titles: tuple[str, ...]


STYLES: tuple[Style, ...] = (
    Style("Quiet Keys", "Rain on Glass", "Classical", 66, (70, 110, 170),
          ("First Light", "Window Seat", "Slow Tide", "Paper Boats", "Lanterns", "Late Letter")),
    Style("Night Circuit", "Neon Hours", "Electronic", 128, (200, 40, 160),
          ("Overdrive", "Grid Runner", "Pulse Code", "Afterhours", "Chrome Rain", "Voltage")),
    Style("Static Bloom", "Loud Flowers", "Rock", 164, (210, 80, 30),
          ("Feedback Garden", "Broken Amp", "Sparks", "Riot Season", "Thunder Jaw", "Fuzz")),
    Style("Blue Room Trio", "Smoke and Brass", "Jazz", 96, (40, 90, 80),
          ("Blue Hour", "Walking Home", "Velvet Step", "Midnight Tab", "Soft Shoe", "Last Call")),
    Style("Deep Field", "Long Horizons", "Ambient", 0, (30, 40, 70),
          ("Aurora", "Ice Shelf", "Deep Water", "Slow Orbit", "Fog Bank", "Stillness")),
    Style("Hollow Pines", "Campfire Songs", "Folk", 112, (150, 120, 50),
          ("River Road", "Old Barn", "Harvest Moon", "Tin Cup", "Pine Needle", "Homeward")),
)


def demo_dir() -> Path:
    """Return where the demo library is written (in the data dir)."""
    return data_dir() / "demo"


def _hz(midi: float) -> float:
    return float(440.0 * 2 ** ((midi - 69) / 12))


def _env(n: int, attack_s: float, decay_s: float) -> np.ndarray:
    t = np.arange(n) / SR
    # The last RELEASE_S fades to silence: a note cut off mid-decay clicks, and the
    # analysis rightly hears the click as an onset (the slow piano's notes, 1.5 beats
    # long, read as 130 BPM through their ends).
    release = np.clip((n / SR - t) / RELEASE_S, 0.0, 1.0)
    return np.minimum(1.0, t / max(attack_s, 1e-3)) * np.exp(-t / max(decay_s, 1e-3)) * release


def _note(hz: float, seconds: float, harmonics: tuple[float, ...], attack_s: float,
          decay_s: float) -> np.ndarray:
    n = int(seconds * SR)
    t = np.arange(n) / SR
    sig = np.sum([a * np.sin(2 * np.pi * hz * (h + 1) * t) for h, a in enumerate(harmonics)],
                 axis=0)
    return np.asarray(sig) * _env(n, attack_s, decay_s)


def _saw(hz: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return 2.0 * ((t * hz) % 1.0) - 1.0


def _mix(out: np.ndarray, at_s: float, sig: np.ndarray, gain: float = 1.0) -> None:
    i = int(at_s * SR)
    if i >= len(out):
        return
    end = min(len(out), i + len(sig))
    out[i:end] += gain * sig[: end - i]


def _kick() -> np.ndarray:
    n = int(0.25 * SR)
    t = np.arange(n) / SR
    return np.sin(2 * np.pi * (50 + 100 * np.exp(-t * 30)) * t) * np.exp(-t * 12)


def _noise_hit(rng: np.random.Generator, seconds: float, decay: float) -> np.ndarray:
    n = int(seconds * SR)
    return rng.uniform(-1, 1, n) * np.exp(-np.arange(n) / SR * decay)


def _progression(rng: np.random.Generator, minor: bool) -> list[tuple[int, tuple[int, ...]]]:
    # Common four-chord loops, transposed to a random key per track.
    loops = ([(0, _MINOR), (8, _MAJOR), (3, _MAJOR), (10, _MAJOR)],
             [(0, _MINOR), (5, _MINOR), (7, _MAJOR), (0, _MINOR)]) if minor else (
             [(0, _MAJOR), (7, _MAJOR), (9, _MINOR), (5, _MAJOR)],
             [(0, _MAJOR), (5, _MAJOR), (7, _MAJOR), (5, _MAJOR)])
    return list(loops[int(rng.integers(len(loops)))])


def _render(style_no: int, track_no: int) -> np.ndarray:
    """Return one demo track, shape (n,), float32 in -1..1."""
    rng = np.random.default_rng(1000 * style_no + track_no)
    n = int(TRACK_SECONDS * SR)
    out = np.zeros(n)
    root = 48 + int(rng.integers(0, 12))
    style = STYLES[style_no]
    bpm = style.bpm * (1 + rng.uniform(-0.04, 0.04)) if style.bpm else 0.0
    beat = 60.0 / bpm if bpm else 4.0
    if style_no == 0:  # slow piano: soft decaying major chords and a melody
        for bar, (deg, quality) in enumerate(_progression(rng, minor=False) * 3):
            at = bar * 4 * beat
            for iv in quality:
                _mix(out, at, _note(_hz(root + deg + iv), 4 * beat, (1, .3, .1), .01, 1.2), .18)
            for k in range(4):
                m = root + 12 + deg + int(rng.choice([0, 2, 4, 7, 9, 12]))
                _mix(out, at + k * beat, _note(_hz(m), beat * 1.5, (1, .4, .15, .05), .005, .5), .2)
    elif style_no == 1:  # club electronic: four-on-the-floor, hats, saw bass, minor
        kick = _kick()
        for b in range(int(TRACK_SECONDS / beat)):
            _mix(out, b * beat, kick, .8)
            _mix(out, b * beat + beat / 2, _noise_hit(rng, .05, 80), .15)
        for bar, (deg, _q) in enumerate(_progression(rng, minor=True) * 8):
            for k in range(8):
                at = bar * 4 * beat + k * beat / 2
                bass = _saw(_hz(root - 12 + deg), beat / 2) * _env(int(beat / 2 * SR), .005, .15)
                _mix(out, at, bass, .25)
    elif style_no == 2:  # noisy rock: fast, distorted power chords, snare noise
        kick = _kick()
        for b in range(int(TRACK_SECONDS / beat)):
            _mix(out, b * beat, kick if b % 2 == 0 else _noise_hit(rng, .15, 18), .6)
        for bar, (deg, _q) in enumerate(_progression(rng, minor=True) * 12):
            at = bar * 2 * beat
            chord = np.sum([_saw(_hz(root + deg + iv), 2 * beat) for iv in (0, 7, 12)], axis=0)
            _mix(out, at, np.tanh(3 * chord) * _env(len(chord), .005, 3), .3)
    elif style_no == 3:  # swing jazz: seventh chords, walking bass, ride cymbal
        swing = (0.0, 2 / 3)
        for bar, (deg, _q) in enumerate(_progression(rng, minor=False) * 6):
            at = bar * 4 * beat
            quality = _MINOR7 if deg in (2, 4, 9) else _SEVENTH
            for iv in quality:
                _mix(out, at, _note(_hz(root + 12 + deg + iv), 2 * beat, (1, .2), .02, .6), .1)
            for k in range(4):
                step = int(rng.choice([0, 2, 4, 5, 7]))
                _mix(out, at + k * beat, _note(_hz(root - 12 + deg + step), beat, (1, .5, .2),
                                               .01, .3), .35)
                for s in swing:
                    _mix(out, at + (k + s) * beat, _noise_hit(rng, .12, 30), .05)
    elif style_no == 4:  # ambient drone: no beat, slow swelling fifths and noise wash
        t = np.arange(n) / SR
        for iv, a in ((0, .3), (7, .2), (12, .15), (19, .08)):
            wobble = 1 + 0.003 * np.sin(2 * np.pi * rng.uniform(.05, .2) * t)
            out += a * np.sin(2 * np.pi * _hz(root - 12 + iv) * wobble * t)
        out *= 0.5 + 0.5 * np.sin(2 * np.pi * t / TRACK_SECONDS * 2 - np.pi / 2) ** 2
        wash = np.convolve(rng.uniform(-1, 1, n), np.ones(64) / 64, mode="same")
        out += 0.3 * wash
    else:  # folk picking: plucked arpeggios, bright and dry, major
        for bar, (deg, quality) in enumerate(_progression(rng, minor=False) * 10):
            at = bar * 4 * beat / 2
            for k in range(4):
                iv = quality[k % len(quality)] + (12 if k == 3 else 0)
                pluck = _note(_hz(root + 12 + deg + iv), beat, (1, .6, .4, .3, .2, .1), .002, .2)
                _mix(out, at + k * beat / 2, pluck, .3)
    out *= np.minimum(1.0, np.minimum(np.arange(n), n - np.arange(n)) / (0.5 * SR))  # fades
    peak = float(np.max(np.abs(out))) or 1.0
    return (0.8 * out / peak).astype(np.float32)


def _cover(color: tuple[int, int, int], label: str) -> bytes:
    """Return a 300x300 PNG cover: a gradient in the album's colour with rings."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (300, 300), color)
    draw = ImageDraw.Draw(img)
    for y in range(300):  # a vertical gradient to a darker shade
        f = 1 - 0.55 * y / 300
        draw.line([(0, y), (300, y)], fill=tuple(int(c * f) for c in color))
    seed = sum(map(ord, label))
    for k in range(5):
        r = 30 + 25 * k + seed % 13
        draw.ellipse([150 - r, 150 - r, 150 + r, 150 + r],
                     outline=tuple(min(255, c + 60) for c in color), width=3)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def generate(
    dest: Path | None = None,
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    tracks_per_style: int = TRACKS_PER_STYLE,
) -> Path:
    """Write the demo library (tagged FLAC files) under dest and return dest.

    Files already there are kept, so a second call is quick; a cancelled run leaves only
    whole files (each is written to a temporary name, then renamed).
    """
    dest = Path(dest) if dest is not None else demo_dir()
    per_style = max(1, min(tracks_per_style, TRACKS_PER_STYLE))
    total = len(STYLES) * per_style
    done = 0
    for s_no, style in enumerate(STYLES):
        cover = _cover(style.color, style.album)
        album_dir = dest / style.artist / style.album
        album_dir.mkdir(parents=True, exist_ok=True)
        for t_no in range(per_style):
            if cancel is not None and cancel.is_set():
                return dest
            title = style.titles[t_no]
            path = album_dir / f"{t_no + 1:02d} {title}.flac"
            if not path.exists():
                tmp = path.with_suffix(".tmp.flac")
                sf.write(tmp, _render(s_no, t_no), SR, format="FLAC", subtype="PCM_16")
                _tag(tmp, style, t_no, cover)
                tmp.replace(path)
            done += 1
            if progress is not None:
                progress(done, total)
    return dest


def _tag(path: Path, style: Style, t_no: int, cover: bytes) -> None:
    audio = FLAC(path)
    audio["title"] = style.titles[t_no]
    audio["artist"] = style.artist
    audio["albumartist"] = style.artist
    audio["album"] = style.album
    audio["genre"] = style.genre
    audio["tracknumber"] = str(t_no + 1)
    audio["tracktotal"] = str(TRACKS_PER_STYLE)
    audio["date"] = str(2019 + STYLES.index(style))
    audio["comment"] = "Timbre demo library (generated)"
    pic = Picture()
    pic.type = 3
    pic.mime = "image/png"
    pic.width = pic.height = 300
    pic.depth = 24
    pic.data = cover
    audio.add_picture(pic)
    audio.save()

"""Generated audio for tests and benchmarks: signals, files in every format, real tags.

No binary media lives in the repo; everything here is made on the spot with numpy,
soundfile (ffmpeg for m4a) and mutagen.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import mutagen
import numpy as np
import soundfile as sf
from mutagen.flac import Picture
from mutagen.id3 import (
    APIC,
    ID3,
    TALB,
    TBPM,
    TCOM,
    TCON,
    TDRC,
    TIT2,
    TPE1,
    TPE2,
    TPOS,
    TRCK,
    TXXX,
    UFID,
)
from mutagen.mp4 import MP4, MP4Cover, MP4FreeForm

SR = 22_050
FORMATS = ("wav", "flac", "ogg", "opus", "mp3", "m4a", "aiff")

_SOUNDFILE = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
    "opus": ("OGG", "OPUS"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
    "aiff": ("AIFF", "PCM_16"),
}


def tone(hz: float, seconds: float = 1.0, sr: int = SR, amp: float = 0.3) -> np.ndarray:
    """Return a sine tone, shape (n,)."""
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def noise(seconds: float = 1.0, sr: int = SR, amp: float = 0.2, seed: int = 0) -> np.ndarray:
    """Return white noise, shape (n,)."""
    rng = np.random.default_rng(seed)
    return (amp * rng.uniform(-1, 1, int(seconds * sr))).astype(np.float32)


def clicks(bpm: float, seconds: float = 10.0, sr: int = SR, amp: float = 0.8) -> np.ndarray:
    """Return a click track: a short decaying noise burst on every beat, shape (n,)."""
    out = np.zeros(int(seconds * sr), dtype=np.float32)
    burst_n = int(0.02 * sr)
    rng = np.random.default_rng(1)
    burst = amp * rng.uniform(-1, 1, burst_n) * np.exp(-np.linspace(0, 8, burst_n))
    period = 60.0 / bpm
    for start_s in np.arange(0, seconds - 0.05, period):
        i = int(start_s * sr)
        out[i : i + burst_n] += burst[: len(out) - i]
    return out


def chord(freqs_hz: Sequence[float], seconds: float = 1.0, sr: int = SR) -> np.ndarray:
    """Return the sum of tones with a few harmonics each, shape (n,)."""
    t = np.arange(int(seconds * sr)) / sr
    sig = np.zeros_like(t)
    for f in freqs_hz:
        for h, a in ((1, 1.0), (2, 0.4), (3, 0.2)):
            sig += a * np.sin(2 * np.pi * f * h * t)
    sig *= np.minimum(1.0, np.minimum(t, t[-1] - t) * 20)  # soft attack and release
    return (0.25 * sig / max(1e-9, np.max(np.abs(sig)))).astype(np.float32)


def write_audio(path: Path, signal: np.ndarray, sr: int = SR) -> Path:
    """Write a mono or (n, channels) signal in the format named by path's suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lower().lstrip(".")
    if fmt == "opus" and sr not in (8000, 12000, 16000, 24000, 48000):
        fmt_sr = 48_000  # Opus only takes these rates
        n_out = int(len(signal) * fmt_sr / sr)
        x_old = np.arange(len(signal)) / sr
        x_new = np.arange(n_out) / fmt_sr
        signal = np.interp(x_new, x_old, signal).astype(np.float32)
        sr = fmt_sr
    if fmt in ("m4a", "mp4", "aac"):
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise RuntimeError("ffmpeg is needed to write m4a")
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "in.wav"
            sf.write(wav, signal, sr, subtype="PCM_16")
            subprocess.run(
                [ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-i", str(wav),
                 "-c:a", "aac", "-b:a", "96k", str(path)],
                check=True,
            )
        return path
    container, subtype = _SOUNDFILE[fmt]
    sf.write(path, signal, sr, format=container, subtype=subtype)
    return path


def tag(path: Path, **fields: object) -> None:
    """Write real tags with mutagen in the file's own spelling.

    Fields: title, artist (str or list), album, albumartist, tracknumber, discnumber,
    date, genre (str or list), composer, bpm, mb_recording_id, mb_release_id,
    mb_artist_id, rg_track_gain (dB), rg_track_peak, rg_album_gain, rg_album_peak,
    cover (JPEG/PNG bytes).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    values = {k: v for k, v in fields.items() if v is not None}

    def as_list(v: object) -> list[str]:
        return [str(x) for x in v] if isinstance(v, (list, tuple)) else [str(v)]

    if suffix in (".mp3", ".wav", ".aiff", ".aif"):
        if suffix == ".mp3":
            try:
                id3 = ID3(path)
            except mutagen.MutagenError:
                id3 = ID3()
        else:
            audio = mutagen.File(path)
            if audio.tags is None:
                audio.add_tags()
            id3 = audio.tags
        simple = {"title": TIT2, "artist": TPE1, "album": TALB, "albumartist": TPE2,
                  "tracknumber": TRCK, "discnumber": TPOS, "date": TDRC, "genre": TCON,
                  "composer": TCOM, "bpm": TBPM}
        for key, frame in simple.items():
            if key in values:
                id3.add(frame(encoding=3, text=as_list(values[key])))
        txxx = {"mb_release_id": "MusicBrainz Album Id", "mb_artist_id": "MusicBrainz Artist Id",
                "rg_track_gain": "REPLAYGAIN_TRACK_GAIN", "rg_track_peak": "REPLAYGAIN_TRACK_PEAK",
                "rg_album_gain": "REPLAYGAIN_ALBUM_GAIN", "rg_album_peak": "REPLAYGAIN_ALBUM_PEAK"}
        for key, desc in txxx.items():
            if key in values:
                v = values[key]
                text = (f"{v:+.2f} dB" if key.endswith("gain") else
                        f"{v:.6f}" if key.startswith("rg_") else str(v))
                id3.add(TXXX(encoding=3, desc=desc, text=[text]))
        if "mb_recording_id" in values:
            id3.add(UFID(owner="http://musicbrainz.org", data=str(values["mb_recording_id"]).encode()))
        if "cover" in values:
            id3.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="cover", data=values["cover"]))
        if suffix == ".mp3":
            id3.save(path)
        else:
            audio.save()
        return

    if suffix in (".m4a", ".mp4", ".aac"):
        mp4 = MP4(path)
        atoms = {"title": "\xa9nam", "artist": "\xa9ART", "album": "\xa9alb", "albumartist": "aART",
                 "date": "\xa9day", "genre": "\xa9gen", "composer": "\xa9wrt"}
        for key, atom in atoms.items():
            if key in values:
                mp4[atom] = as_list(values[key])
        if "tracknumber" in values:
            mp4["trkn"] = [(int(str(values["tracknumber"]).split("/")[0]), 0)]
        if "discnumber" in values:
            mp4["disk"] = [(int(str(values["discnumber"]).split("/")[0]), 0)]
        if "bpm" in values:
            mp4["tmpo"] = [int(float(str(values["bpm"])))]
        free = {"mb_recording_id": "MusicBrainz Track Id", "mb_release_id": "MusicBrainz Album Id",
                "mb_artist_id": "MusicBrainz Artist Id",
                "rg_track_gain": "replaygain_track_gain", "rg_track_peak": "replaygain_track_peak",
                "rg_album_gain": "replaygain_album_gain", "rg_album_peak": "replaygain_album_peak"}
        for key, name in free.items():
            if key in values:
                v = values[key]
                text = (f"{v:+.2f} dB" if key.endswith("gain") else
                        f"{v:.6f}" if key.startswith("rg") else str(v))
                mp4[f"----:com.apple.iTunes:{name}"] = [MP4FreeForm(text.encode())]
        if "cover" in values:
            mp4["covr"] = [MP4Cover(values["cover"], imageformat=MP4Cover.FORMAT_JPEG)]
        mp4.save()
        return

    # Vorbis comments: FLAC, Ogg Vorbis, Opus.
    audio = mutagen.File(path)
    if audio.tags is None:
        audio.add_tags()
    names = {"mb_recording_id": "musicbrainz_trackid", "mb_release_id": "musicbrainz_albumid",
             "mb_artist_id": "musicbrainz_artistid"}
    for key, value in values.items():
        if key == "cover":
            pic = Picture()
            pic.type = 3
            pic.mime = "image/jpeg"
            pic.data = value  # type: ignore[assignment]
            if suffix == ".flac":
                audio.add_picture(pic)
            else:
                import base64

                audio["metadata_block_picture"] = [base64.b64encode(pic.write()).decode()]
            continue
        if key.startswith("rg_") and suffix == ".opus":
            # Opus keeps gains as R128_* in Q7.8 fixed point, relative to -23 LUFS.
            if key in ("rg_track_gain", "rg_album_gain"):
                q = int(round((float(value) - 5.0) * 256))  # type: ignore[arg-type]
                audio[f"R128_{key[3:-5].upper()}_GAIN"] = [str(q)]
            continue
        if key.startswith("rg_"):
            kind, what = key[3:].split("_")
            text = f"{value:+.2f} dB" if what == "gain" else f"{value:.6f}"
            audio[f"REPLAYGAIN_{kind.upper()}_{what.upper()}"] = [text]
            continue
        audio[names.get(key, key)] = as_list(value)
    audio.save()


def jpeg_bytes(color: tuple[int, int, int] = (200, 30, 30), size: int = 64) -> bytes:
    """Return a small real JPEG image of one colour."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, format="JPEG")
    return buf.getvalue()


def make_track(path: Path, signal: np.ndarray | None = None, sr: int = SR, **tags: object) -> Path:
    """Write a tagged audio file (a 1 s 440 Hz tone unless a signal is given)."""
    write_audio(path, tone(440) if signal is None else signal, sr)
    if tags:
        tag(path, **tags)
    return Path(path)

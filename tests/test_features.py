"""Known answers for the audio features and the excerpt decoder, on generated audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soxr

from player import demo
from recommender.decode import EXCERPT_S, SR_HZ, DecodeError, decode
from recommender.features import (
    FEATURE_GROUPS,
    FEATURE_NAMES,
    KEYS,
    SilentAudioError,
    estimate_key,
    extract,
)
from tests.media import chord, clicks, noise, tone, write_audio

pytestmark = pytest.mark.slow

C_MAJOR = [261.63, 329.63, 392.00]
F_MAJOR = [349.23, 440.00, 523.25]
G_MAJOR = [392.00, 493.88, 587.33]
A_MINOR = [220.00, 261.63, 329.63]
D_MINOR = [293.66, 349.23, 440.00]
E_MAJOR = [329.63, 415.30, 493.88]


def song(chords: list[list[float]], bpm: float, seconds: float = 40.0, seed: int = 0) -> np.ndarray:
    """Return a chord progression, one chord per bar, over a click track, shape (n,)."""
    bar_s = 4 * 60.0 / bpm
    n = int(seconds * SR_HZ)
    harmony = np.concatenate([chord(c, bar_s) for c in chords * int(seconds / bar_s + 4)])[:n]
    beat = clicks(bpm, seconds)[:n]
    return (harmony + 0.5 * beat + noise(seconds, amp=0.01, seed=seed)[:n]).astype(np.float32)


def test_layout_names_every_column_once_in_one_group() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    grouped = sorted(i for cols in FEATURE_GROUPS.values() for i in cols)
    assert grouped == list(range(len(FEATURE_NAMES)))
    assert set(FEATURE_GROUPS) == {"timbre", "harmony", "rhythm", "texture", "loudness", "structure"}
    vector = extract(tone(440, 5), SR_HZ).vector
    assert vector.dtype == np.float32
    assert vector.shape == (len(FEATURE_NAMES),)
    assert np.all(np.isfinite(vector))


@pytest.mark.parametrize("bpm", [90, 140])
def test_click_track_tempo(bpm: int) -> None:
    features = extract(clicks(bpm, 30), SR_HZ)
    assert features.descriptors.tempo_bpm == pytest.approx(bpm, abs=2)
    assert features.descriptors.tempo_confidence > 0.5
    assert features["beat_regularity"] > 0.5


def test_demo_slow_piano_is_analysed_at_its_own_slow_tempo() -> None:
    # Its notes last 1.5 beats; cut off mid-decay they clicked on the off-beats, and the
    # demo's "Quiet Keys" read as 130 BPM, so its mix was named "fast".
    piano = demo.STYLES[0]
    for track in range(2):
        tempo = extract(demo._render(0, track).astype(np.float32), demo.SR).descriptors.tempo_bpm
        assert tempo == pytest.approx(piano.bpm, rel=0.08)


def test_steady_tone_has_no_confident_tempo() -> None:
    steady = extract(tone(440, 20), SR_HZ)
    clicked = extract(clicks(120, 20), SR_HZ)
    assert steady.descriptors.tempo_confidence < clicked.descriptors.tempo_confidence
    assert steady.descriptors.danceability < clicked.descriptors.danceability


def test_brighter_tone_has_higher_centroid() -> None:
    results = [extract(tone(hz, 5), SR_HZ) for hz in (220, 880, 3520)]
    centroids = [f["centroid_mean_hz"] for f in results]
    assert centroids == sorted(centroids)
    assert centroids[0] == pytest.approx(220, rel=0.2)
    brightness = [f.descriptors.brightness for f in results]
    assert brightness == sorted(brightness) and brightness[0] < brightness[-1]


@pytest.mark.parametrize(("chords", "key", "mode"), [
    ([C_MAJOR, F_MAJOR, G_MAJOR, C_MAJOR], "C", "major"),
    ([A_MINOR, D_MINOR, E_MAJOR, A_MINOR], "A", "minor"),
])
def test_chord_progression_key(chords: list[list[float]], key: str, mode: str) -> None:
    progression = np.concatenate([chord(c, 2.0) for c in chords * 4])
    d = extract(progression, SR_HZ).descriptors
    assert (d.key, d.mode) == (key, mode)
    assert d.key_confidence > 0.5


def test_key_profile_rotates_with_the_tonic() -> None:
    major = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
    for tonic in range(12):
        assert estimate_key(np.roll(major, tonic))[:2] == (tonic, True)
    assert KEYS[estimate_key(np.roll(major, 7))[0]] == "G"


def test_quiet_copy_is_less_loud() -> None:
    music = song([C_MAJOR, F_MAJOR, G_MAJOR, C_MAJOR], 120, seconds=20)
    loud = extract(music, SR_HZ)
    quiet = extract(music * 0.1, SR_HZ)
    assert quiet.descriptors.loudness_db == pytest.approx(loud.descriptors.loudness_db - 20, abs=0.1)
    assert quiet["rms_mean"] < loud["rms_mean"]
    assert quiet.descriptors.energy < loud.descriptors.energy
    # the shape of the sound does not change with its level
    assert quiet.descriptors.key == loud.descriptors.key
    assert quiet.descriptors.tempo_bpm == pytest.approx(loud.descriptors.tempo_bpm, abs=0.5)


def test_texture_counts_voices_and_hears_the_triad() -> None:
    melody = np.concatenate([chord([f], 0.25) for f in (C_MAJOR + F_MAJOR + G_MAJOR) * 8])
    chords = np.concatenate([chord(c, 2.0) for c in (C_MAJOR, F_MAJOR, G_MAJOR, C_MAJOR)] * 2)
    one, three = extract(melody, SR_HZ), extract(chords, SR_HZ)
    # a voice is a note and its loud overtones: one note sounds at a time, against three
    assert three["voices_mean"] >= 2 * one["voices_mean"]
    assert three["chroma_entropy_mean"] > one["chroma_entropy_mean"]
    # the melody moves every 0.25 s, the chords every 2 s
    assert one["chroma_flux_mean"] > 2 * three["chroma_flux_mean"]
    assert one["pitch_flux_mean"] > three["pitch_flux_mean"]
    # a major triad is a minor third, a major third and a fifth (interval class 5)
    triad = extract(np.concatenate([chord(C_MAJOR, 2.0)] * 5), SR_HZ)
    assert triad["interval_3"] + triad["interval_4"] + triad["interval_5"] > 0.9
    assert max(triad["interval_1"], triad["interval_2"], triad["interval_6"]) < 0.05
    quiet = extract(chords * 0.1, SR_HZ)  # the level does not change the texture
    for name in ("voices_mean", "chroma_entropy_mean", "chroma_flux_mean", "pitch_flux_mean",
                 "interval_4"):
        assert quiet[name] == pytest.approx(three[name], rel=0.05, abs=0.01)


def _windows(parts: list[np.ndarray]) -> np.ndarray:
    """Join five 6 s parts as recommender.decode joins a track's windows."""
    assert len(parts) == 5
    return np.concatenate([p[: int(6 * SR_HZ)] for p in parts]).astype(np.float32)


def test_structure_hears_the_level_change_between_windows_and_the_swells_within() -> None:
    triad = chord(C_MAJOR, 6.0)
    steady = extract(_windows([triad] * 5), SR_HZ)
    verses = extract(_windows([triad * g for g in (0.1, 1.0, 0.1, 1.0, 0.3)]), SR_HZ)
    assert verses["level_between_sd"] > 5.0 > 0.5 > steady["level_between_sd"]  # dB
    t = np.arange(len(triad)) / SR_HZ
    swells = (triad * (0.55 + 0.45 * np.sin(2 * np.pi * 0.5 * t))).astype(np.float32)
    tremolo = extract(_windows([swells] * 5), SR_HZ)
    # a swell every 2 s: seen at 0.25 s, mostly gone once smoothed over 3 s
    assert tremolo["level_sd_250ms"] > 3 * steady["level_sd_250ms"] + 1.0
    assert tremolo["level_sd_3s"] < 0.5 * tremolo["level_sd_250ms"]


def test_structure_tells_one_harmony_from_sections_that_move_away() -> None:
    keys = [C_MAJOR, [f * 2 ** (6 / 12) for f in C_MAJOR], [f * 2 ** (1 / 12) for f in C_MAJOR],
            [f * 2 ** (8 / 12) for f in C_MAJOR], [f * 2 ** (3 / 12) for f in C_MAJOR]]
    one = extract(_windows([chord(C_MAJOR, 6.0)] * 5), SR_HZ)
    sections = extract(_windows([chord(k, 6.0) for k in keys]), SR_HZ)
    assert one["harmony_between_sim"] > 0.95 > 0.6 > sections["harmony_between_sim"]
    # a chord a second against a held one; held chords recur 4 s later, moving ones less
    moving = extract(_windows([np.concatenate([chord(k, 1.0) for k in keys + keys[:1]])] * 5),
                     SR_HZ)
    assert one["harmony_next_1s"] > 0.95 > moving["harmony_next_1s"]
    assert one["recurrence_1s"] > moving["recurrence_1s"] + 0.2


def test_structure_counts_the_pauses() -> None:
    phrase = np.concatenate([chord(C_MAJOR, 1.0), np.zeros(SR_HZ // 2, np.float32)] * 4)
    legato = extract(_windows([chord(C_MAJOR, 6.0)] * 5), SR_HZ)
    rests = extract(_windows([phrase] * 5), SR_HZ)
    assert legato["quiet_40db"] < 0.02 and legato["quiet_20db"] < 0.05
    assert 0.2 < rests["quiet_40db"] < 0.45  # a third of the time is rest
    for name in FEATURE_GROUPS["structure"]:  # every column is a number, even so
        assert np.isfinite(rests.vector[name])


@pytest.mark.parametrize("bpm", [60, 120, 200])
def test_note_lengths_of_a_click_track(bpm: int) -> None:
    f = extract(clicks(bpm, 20), SR_HZ)
    period = 60.0 / bpm
    assert f["ioi_log_mean_s"] == pytest.approx(np.log(period), abs=0.05)
    assert f["ioi_variation"] < 0.05  # a metronome: every gap the same
    edges = np.geomspace(0.05, 3.0, 9)
    band = int(np.searchsorted(edges, period, side="right")) - 1
    assert f[f"ioi_share_{band}"] > 0.9
    shares = [f[f"ioi_share_{i}"] for i in range(8)]
    assert sum(shares) == pytest.approx(1.0)


def test_clicks_are_less_acoustic_than_chords() -> None:
    percussive = extract(clicks(120, 20), SR_HZ).descriptors.acousticness
    harmonic = extract(np.concatenate([chord(C_MAJOR, 2.0)] * 10), SR_HZ).descriptors.acousticness
    assert percussive < 0.5 < harmonic


def test_silence_is_an_error() -> None:
    with pytest.raises(SilentAudioError):
        extract(np.zeros(SR_HZ * 5, dtype=np.float32), SR_HZ)


def test_same_audio_in_every_format_gives_nearly_the_same_vector(tmp_path: Path) -> None:
    # Written at 44.1 kHz like real releases, so lossy encoders keep what 22 kHz analysis sees.
    music = song([C_MAJOR, F_MAJOR, G_MAJOR, C_MAJOR], 100)
    music_44k = soxr.resample(music, SR_HZ, 44_100)
    reference = extract(decode(str(write_audio(tmp_path / "a.wav", music_44k, 44_100))).signal,
                        SR_HZ)
    other = extract(song([A_MINOR, D_MINOR, E_MAJOR, A_MINOR], 128, seed=1), SR_HZ)
    vectors = {}
    for fmt in ("flac", "mp3", "ogg", "opus", "m4a"):
        path = write_audio(tmp_path / f"a.{fmt}", music_44k, 44_100)
        features = extract(decode(str(path)).signal, SR_HZ)
        vectors[fmt] = features.vector
        assert (features.descriptors.key, features.descriptors.mode) == ("C", "major"), fmt
        assert features.descriptors.tempo_bpm == pytest.approx(100, abs=1), fmt
    # Distances in units of each column's spread over a few different sounds.
    spread = np.stack([reference.vector, other.vector, *vectors.values(),
                       extract(noise(20), SR_HZ).vector,
                       extract(tone(440, 20), SR_HZ).vector]).std(axis=0) + 1e-9

    def distance(v: np.ndarray) -> float:
        return float(np.linalg.norm((v - reference.vector) / spread))

    for fmt, vector in vectors.items():
        assert distance(vector) < 0.4 * distance(other.vector), fmt


@pytest.mark.parametrize("fmt", ["flac", "m4a"])
def test_decode_reads_five_windows_spread_over_the_track(tmp_path: Path, fmt: str) -> None:
    # 100 s at 220 Hz, except 6 s of 880 Hz around 10, 30, 50, 70 and 90 s: exactly the
    # five windows (7-13, 27-33, 47-53, 67-73 and 87-93 s) must be decoded, nothing between.
    signal = tone(220, 100)
    for centre_s in (10, 30, 50, 70, 90):
        a, b = (centre_s - 3) * SR_HZ, (centre_s + 3) * SR_HZ
        signal[a:b] = tone(880, 6)
    path = write_audio(tmp_path / f"long.{fmt}", signal)
    excerpt = decode(str(path), 100.0)
    assert excerpt.start_s == pytest.approx(7.0)
    assert len(excerpt.signal) == pytest.approx(EXCERPT_S * SR_HZ, rel=0.01)
    spectrum = np.abs(np.fft.rfft(excerpt.signal))
    freqs = np.fft.rfftfreq(len(excerpt.signal), 1 / SR_HZ)
    energy_880 = spectrum[(freqs > 850) & (freqs < 910)].sum()
    energy_220 = spectrum[(freqs > 200) & (freqs < 240)].sum()
    assert energy_880 > 10 * energy_220  # all five windows, and only them


def test_decode_without_a_known_length_probes_it(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.m4a", tone(440, 50))
    excerpt = decode(str(path))  # the library's length unknown: ffmpeg path probes it
    assert excerpt.decoder == "ffmpeg"
    assert excerpt.duration_s == pytest.approx(50, abs=0.5)
    assert len(excerpt.signal) == pytest.approx(EXCERPT_S * SR_HZ, rel=0.01)


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("empty.flac", b"", "empty"),
    ("random.flac", bytes(np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8)),
     "cannot decode"),
])
def test_decode_rejects_bad_files_with_a_reason(tmp_path: Path, name: str, content: bytes,
                                                reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DecodeError, match=reason):
        decode(str(path))


def test_decode_short_file_is_analysed_whole(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "short.ogg", tone(440, 5))
    excerpt = decode(str(path))
    assert excerpt.start_s == 0
    assert len(excerpt.signal) == pytest.approx(5 * SR_HZ, rel=0.02)

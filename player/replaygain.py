"""ReplayGain as output volume: pure functions from tags and settings to a linear volume.

Qt Multimedia has no gain stage before its output, so the gain is folded into the
QAudioOutput volume, which cannot exceed 1.0: a positive gain is only audible when the
user's volume is below full. The peak caps the scale so that a gain never pushes the
track's loudest sample past full scale (no clipping).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MODES = ("off", "track", "album")
MAX_PREAMP_DB = 15.0


@dataclass(frozen=True, slots=True)
class GainTags:
    """The ReplayGain values of one track (dB gains, linear peaks; None when absent)."""

    track_gain_db: float | None = None
    track_peak: float | None = None
    album_gain_db: float | None = None
    album_peak: float | None = None


def choose_gain(tags: GainTags, mode: str) -> tuple[float | None, float | None]:
    """Return the (gain dB, peak) the mode asks for, falling back to the other kind.

    Album mode on a track without album gain uses its track gain (and vice versa), so a
    half-tagged library is still levelled. Mode "off" returns (None, None).
    """
    if mode not in MODES:
        raise ValueError(f"unknown ReplayGain mode {mode!r}; expected one of {MODES}")
    if mode == "off":
        return None, None
    first = (tags.album_gain_db, tags.album_peak) if mode == "album" else (
        tags.track_gain_db, tags.track_peak)
    second = (tags.track_gain_db, tags.track_peak) if mode == "album" else (
        tags.album_gain_db, tags.album_peak)
    if first[0] is not None:
        return first
    return second


def gain_scale(
    tags: GainTags, mode: str, *, preamp_db: float = 0.0, fallback_db: float = 0.0
) -> float:
    """Return the linear factor for a track: 10^((gain + pre-amp) / 20), capped by 1/peak.

    fallback_db applies to tracks without any ReplayGain tag (still with the pre-amp);
    in mode "off" the factor is 1.0.
    """
    if mode == "off":
        return 1.0
    preamp_db = max(-MAX_PREAMP_DB, min(MAX_PREAMP_DB, preamp_db))
    gain_db, peak = choose_gain(tags, mode)
    if gain_db is None:
        gain_db = fallback_db
    scale = 10.0 ** ((gain_db + preamp_db) / 20.0)
    if peak is not None and peak > 0:
        # peak * scale must stay <= 1.0 (full scale): that is what "no clipping" means.
        scale = min(scale, 1.0 / peak)
    return float(scale)


def output_volume(user_volume: float, scale: float, *, muted: bool = False) -> float:
    """Return the QAudioOutput volume (0..1) for a user volume (0..1) and a gain factor."""
    if muted:
        return 0.0
    user_volume = max(0.0, min(1.0, user_volume))
    return max(0.0, min(1.0, user_volume * scale))


def fade_factors(elapsed_ms: int, length_ms: int) -> tuple[float, float]:
    """Return (outgoing, incoming) volume factors of an equal-power crossfade."""
    if length_ms <= 0:
        return 0.0, 1.0
    x = max(0.0, min(1.0, elapsed_ms / length_ms))
    # sin/cos keeps the summed power constant, so the overlap does not dip in loudness.
    return float(math.cos(x * math.pi / 2)), float(math.sin(x * math.pi / 2))

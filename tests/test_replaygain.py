"""ReplayGain volume maths: known answers from the dB formula and the peak limit."""

from __future__ import annotations

import math

import pytest

from player.replaygain import GainTags, choose_gain, fade_factors, gain_scale, output_volume

TAGS = GainTags(track_gain_db=-6.0, track_peak=0.5, album_gain_db=-3.0, album_peak=0.9)


def test_track_and_album_modes_pick_their_gain() -> None:
    assert choose_gain(TAGS, "track") == (-6.0, 0.5)
    assert choose_gain(TAGS, "album") == (-3.0, 0.9)
    assert choose_gain(TAGS, "off") == (None, None)
    assert gain_scale(TAGS, "track") == pytest.approx(10 ** (-6 / 20))  # ~0.501
    assert gain_scale(TAGS, "album") == pytest.approx(10 ** (-3 / 20))


def test_missing_kind_falls_back_to_the_other() -> None:
    only_track = GainTags(track_gain_db=-4.0, track_peak=0.3)
    assert choose_gain(only_track, "album") == (-4.0, 0.3)
    only_album = GainTags(album_gain_db=-2.0)
    assert choose_gain(only_album, "track") == (-2.0, None)


def test_preamp_adds_and_untagged_uses_fallback() -> None:
    assert gain_scale(TAGS, "track", preamp_db=6.0) == pytest.approx(1.0)
    assert gain_scale(GainTags(), "track", fallback_db=-6.0) == pytest.approx(10 ** (-6 / 20))
    assert gain_scale(GainTags(), "track", preamp_db=3.0, fallback_db=-3.0) == pytest.approx(1.0)
    assert gain_scale(TAGS, "off", preamp_db=10.0) == 1.0


def test_peak_prevents_clipping() -> None:
    loud_gain = GainTags(track_gain_db=+12.0, track_peak=0.8)
    scale = gain_scale(loud_gain, "track")
    assert scale == pytest.approx(1 / 0.8)  # +12 dB would be 3.98x; the peak allows 1.25x
    assert 0.8 * scale <= 1.0 + 1e-12
    # a quiet-enough gain is not touched by the peak
    assert gain_scale(GainTags(track_gain_db=1.0, track_peak=0.5), "track") == pytest.approx(
        10 ** (1 / 20))


def test_output_volume_is_bounded_and_muted() -> None:
    assert output_volume(0.5, 0.5) == pytest.approx(0.25)
    assert output_volume(1.0, 1.25) == 1.0  # Qt's output cannot amplify past 1.0
    assert output_volume(0.6, 1.25) == pytest.approx(0.75)  # below full volume it can
    assert output_volume(0.8, 1.0, muted=True) == 0.0
    assert output_volume(2.0, 1.0) == 1.0 and output_volume(-1.0, 1.0) == 0.0


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown ReplayGain mode"):
        gain_scale(TAGS, "loud")


def test_crossfade_is_equal_power() -> None:
    assert fade_factors(0, 1000) == pytest.approx((1.0, 0.0))
    assert fade_factors(1000, 1000) == pytest.approx((0.0, 1.0), abs=1e-12)
    for t in (100, 250, 500, 900):
        out, inc = fade_factors(t, 1000)
        assert out**2 + inc**2 == pytest.approx(1.0)
    assert fade_factors(500, 1000)[0] == pytest.approx(math.sqrt(0.5))
    assert fade_factors(10, 0) == (0.0, 1.0)

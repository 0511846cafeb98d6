"""Tag reading: every field in every format, ReplayGain in all its spellings, bad input."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import mutagen
import pytest
from mutagen.asf import ASF
from mutagen.id3 import ID3, RVA2, TCMP, TCON, TIT2, TXXX
from mutagen.mp4 import MP4, MP4FreeForm

from player.tags import TagError, clean_text, parse_number_pair, read_tags, title_from_name
from tests.media import FORMATS, jpeg_bytes, make_track, tone

FULL = dict(
    title="Título 東京タワー", artist=["Beyoncé", "周杰倫"], album="Álbum",
    albumartist="Various",
    tracknumber="3/12", discnumber="1/2", date="1999-03-01", genre=["Rock", "Synth-Pop"],
    composer="Ennio Morricone", bpm=128, mb_recording_id="0b0a2a4c-rec",
    mb_release_id="d5e1-rel", mb_artist_id="a9f0-art", rg_track_gain=-6.5, rg_track_peak=0.891,
    rg_album_gain=-7.25, rg_album_peak=0.977,
)
CODECS = {"wav": "pcm", "flac": "flac", "ogg": "vorbis", "opus": "opus", "mp3": "mp3",
          "m4a": "aac", "aiff": "pcm"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_field_is_read_in_every_format(tmp_path: Path, fmt: str) -> None:
    path = make_track(tmp_path / f"t.{fmt}", tone(330, 0.5), cover=jpeg_bytes(), **FULL)
    tags = read_tags(path)
    assert tags.title == FULL["title"]
    assert tags.artists == ["Beyoncé", "周杰倫"]
    assert tags.artist == "Beyoncé; 周杰倫"
    assert (tags.album, tags.albumartist, tags.composer) == ("Álbum", "Various", "Ennio Morricone")
    assert (tags.tracknumber, tags.discnumber) == (3, 1)
    if fmt != "m4a":  # trkn written as (3, 0) by the test factory: no total
        assert (tags.tracktotal, tags.disctotal) == (12, 2)
    assert (tags.date, tags.year) == ("1999-03-01", 1999)
    assert tags.genres == ["Rock", "Synth-Pop"]
    assert tags.bpm == 128
    assert (tags.mb_recording_id, tags.mb_release_id, tags.mb_artist_id) == (
        "0b0a2a4c-rec", "d5e1-rel", "a9f0-art")
    assert tags.rg_track_gain == pytest.approx(-6.5, abs=0.01)
    assert tags.rg_album_gain == pytest.approx(-7.25, abs=0.01)
    if fmt != "opus":  # R128 has no peaks
        assert tags.rg_track_peak == pytest.approx(0.891, abs=1e-4)
        assert tags.rg_album_peak == pytest.approx(0.977, abs=1e-4)
    assert tags.duration_s == pytest.approx(0.5, abs=0.1)
    assert tags.sample_rate in (22_050, 48_000)
    assert tags.channels in (1, 2)
    assert tags.bitrate and tags.bitrate > 0
    assert tags.codec == CODECS[fmt]
    assert tags.pictures and tags.pictures[0].data == jpeg_bytes()
    values = tags.column_values()
    assert len(values) == 28 and values[0] == FULL["title"]


def test_title_falls_back_to_the_file_name(tmp_path: Path) -> None:
    path = make_track(tmp_path / "My Song (live).flac", tone(300, 0.3))
    tags = read_tags(path)
    assert tags.title == "My Song (live)"
    assert tags.artists == [] and tags.artist is None


def test_id3_txxx_replaygain_is_case_insensitive_and_rva2_is_a_fallback(tmp_path: Path) -> None:
    lower = make_track(tmp_path / "lower.mp3", tone(300, 0.3), title="x")
    id3 = ID3(lower)
    id3.add(TXXX(encoding=3, desc="replaygain_track_gain", text=["-3.10 dB"]))
    id3.add(TXXX(encoding=3, desc="Replaygain_Album_Peak", text=["0.5"]))
    id3.save()
    tags = read_tags(lower)
    assert tags.rg_track_gain == pytest.approx(-3.1)
    assert tags.rg_album_peak == pytest.approx(0.5)

    legacy = make_track(tmp_path / "rva2.mp3", tone(300, 0.3), title="x")
    id3 = ID3(legacy)
    id3.add(RVA2(desc="track", channel=1, gain=-4.5, peak=0.75))
    id3.add(RVA2(desc="album", channel=1, gain=-5.0, peak=0.8))
    id3.save()
    tags = read_tags(legacy)
    assert tags.rg_track_gain == pytest.approx(-4.5, abs=0.01)
    assert tags.rg_track_peak == pytest.approx(0.75, abs=0.01)
    assert tags.rg_album_gain == pytest.approx(-5.0, abs=0.01)


def test_mp4_freeform_replaygain_in_upper_case(tmp_path: Path) -> None:
    path = make_track(tmp_path / "t.m4a", tone(300, 0.3), title="x")
    mp4 = MP4(path)
    mp4["----:com.apple.iTunes:REPLAYGAIN_TRACK_GAIN"] = [MP4FreeForm(b"-2.00 dB")]
    mp4["cpil"] = True
    mp4.save()
    tags = read_tags(path)
    assert tags.rg_track_gain == pytest.approx(-2.0)
    assert tags.compilation is True


def test_opus_r128_gain_is_converted_to_replaygain_reference(tmp_path: Path) -> None:
    path = make_track(tmp_path / "t.opus", tone(300, 0.3), title="x")
    audio = mutagen.File(path)
    audio["R128_TRACK_GAIN"] = ["-2560"]  # -10 dB relative to -23 LUFS
    audio.save()
    assert read_tags(path).rg_track_gain == pytest.approx(-5.0)


def test_vorbis_single_value_lists_and_compilation(tmp_path: Path) -> None:
    path = make_track(tmp_path / "t.flac", tone(300, 0.3), title="x")
    audio = mutagen.File(path)
    audio["GENRE"] = ["Rock; Pop;  Rock"]
    audio["ARTISTS"] = ["A", "B"]
    audio["ARTIST"] = ["A & B"]
    audio["COMPILATION"] = ["1"]
    audio["TRACKNUMBER"] = ["A1"]  # a vinyl side: no number
    audio["TOTALTRACKS"] = ["9"]
    audio.save()
    tags = read_tags(path)
    assert tags.genres == ["Rock", "Pop"]
    assert tags.artists == ["A", "B"]
    assert tags.compilation is True
    assert (tags.tracknumber, tags.tracktotal) == (None, 9)


def test_id3_numeric_genres_and_itunes_compilation(tmp_path: Path) -> None:
    path = make_track(tmp_path / "t.mp3", tone(300, 0.3), album="x")
    id3 = ID3(path)
    id3.add(TCON(encoding=3, text=["(17)(8)"]))
    id3.add(TCMP(encoding=3, text=["1"]))
    id3.save()
    tags = read_tags(path)
    assert tags.genres == ["Rock", "Jazz"]
    assert tags.compilation is True


def test_hostile_text_is_plain_and_bounded(tmp_path: Path) -> None:
    path = make_track(tmp_path / "t.mp3", tone(300, 0.3), album="x")
    id3 = ID3(path)
    id3.add(TIT2(encoding=3, text=["bad\x07title\x1b[31m\x7f" + "x" * 5000]))
    id3.save()
    title = read_tags(path).title
    assert "\x7f" not in title and "\x1b" not in title and "\x07" not in title
    assert title.startswith("badtitle[31m") and len(title) == 1000
    assert clean_text("  ") is None
    assert parse_number_pair("07/ 12") == (7, 12)


@pytest.mark.parametrize("stem,expected", [
    ("01 Night Drive", (1, "Night Drive")),
    ("7 - Night Drive", (7, "Night Drive")),
    ("12. Night Drive", (12, "Night Drive")),
    ("03_night_drive", (3, "night drive")),
    ("2-05 Night Drive", (5, "Night Drive")),
    # a number that may be the title's own stays
    ("99 Luftballons", (None, "99 Luftballons")),
    ("3 Doors Down - Kryptonite", (None, "3 Doors Down - Kryptonite")),
    ("2001 A Space Odyssey", (None, "2001 A Space Odyssey")),
    ("1.5 Hours", (None, "1.5 Hours")),
    ("05", (None, "05")),
    ("05. ", (None, "05.")),
])
def test_untagged_title_and_number_from_the_file_name(stem: str, expected: tuple) -> None:
    assert title_from_name(stem) == expected


def test_untagged_file_reads_its_name_and_tags_win(tmp_path: Path) -> None:
    bare = read_tags(make_track(tmp_path / "04 - Night Drive.flac", tone(300, 0.3)))
    assert (bare.title, bare.tracknumber) == ("Night Drive", 4)
    tagged = read_tags(make_track(tmp_path / "05 - x.flac", tone(300, 0.3), title="Real",
                                  tracknumber="9"))
    assert (tagged.title, tagged.tracknumber) == ("Real", 9)
    # a title tag without a number: the name's number is not trusted over the tags
    titled = read_tags(make_track(tmp_path / "06 - y.flac", tone(300, 0.3), title="Only"))
    assert (titled.title, titled.tracknumber) == ("Only", None)


@pytest.mark.parametrize("content,name", [
    (b"", "zero.mp3"),
    (b"this is a text file, not audio\n" * 20, "text.flac"),
    (bytes(range(256)) * 64, "random.ogg"),
    (b"fLaC" + b"\x00" * 30, "header-only.flac"),
])
def test_unreadable_files_raise_tag_error(tmp_path: Path, content: bytes, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(TagError) as info:
        read_tags(path)
    assert str(path) not in str(info.value)  # the reason, not the path again


def test_truncated_file_is_an_error_or_partial_never_a_crash(tmp_path: Path) -> None:
    good = make_track(tmp_path / "good.m4a", tone(300, 1.0), title="x")
    data = good.read_bytes()
    cut = tmp_path / "cut.m4a"
    cut.write_bytes(data[: len(data) // 3])
    try:
        tags = read_tags(cut)
    except TagError as exc:
        assert "not readable" in str(exc)
    else:
        assert tags.title


def _ffmpeg_encode(tmp_path: Path, name: str, codec: str) -> Path:
    """Encode a short tone with ffmpeg (the factory's formats do not cover WMA and ALAC)."""
    wav = make_track(tmp_path / f"{name}.src.wav", tone(300, 0.5))
    out = tmp_path / name
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav),
                    "-c:a", codec, str(out)], check=True)
    return out


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg writes the WMA/ALAC files")
def test_wma_and_alac(tmp_path: Path) -> None:
    wma = _ffmpeg_encode(tmp_path, "t.wma", "wmav2")
    asf = ASF(wma)
    asf["Title"] = ["Título WMA"]
    asf["Author"] = ["Artist"]
    asf["WM/AlbumTitle"] = ["Album"]
    asf["WM/Genre"] = ["Rock", "Pop"]
    asf["WM/TrackNumber"] = ["4"]
    asf["MusicBrainz/Track Id"] = ["rec-wma"]
    asf["replaygain_track_gain"] = ["-4.00 dB"]
    asf.save()
    tags = read_tags(wma)
    assert (tags.title, tags.artist, tags.album, tags.tracknumber) == (
        "Título WMA", "Artist", "Album", 4)
    assert tags.genres == ["Rock", "Pop"]
    assert (tags.mb_recording_id, tags.rg_track_gain, tags.codec) == ("rec-wma", -4.0, "wma")
    alac = _ffmpeg_encode(tmp_path, "t.m4a", "alac")
    assert read_tags(alac).codec == "alac"


def test_content_decides_the_format_not_the_extension(tmp_path: Path) -> None:
    flac = make_track(tmp_path / "real.flac", tone(300, 0.5), title="Really FLAC")
    disguised = tmp_path / "disguised.mp3"
    flac.rename(disguised)
    tags = read_tags(disguised)
    assert (tags.title, tags.codec) == ("Really FLAC", "flac")

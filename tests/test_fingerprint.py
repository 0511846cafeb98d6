"""The audio fingerprint ignores tags and follows the audio."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mutagen.apev2 import APEv2
from mutagen.id3 import ID3, TIT2

from player.fingerprint import fingerprint
from tests.media import FORMATS, jpeg_bytes, make_track, noise, tag


@pytest.mark.parametrize("fmt", FORMATS)
def test_retagging_keeps_the_fingerprint_and_other_audio_differs(tmp_path: Path,
                                                                 fmt: str) -> None:
    original = make_track(tmp_path / f"a.{fmt}", noise(3.0, seed=1), title="x")
    retagged = tmp_path / f"b.{fmt}"
    shutil.copyfile(original, retagged)
    tag(retagged, title="a much longer title " * 40, artist=["A", "B"], genre=["Rock"],
        cover=jpeg_bytes(size=400), rg_track_gain=-3.0, mb_recording_id="rec")
    other = make_track(tmp_path / f"c.{fmt}", noise(3.0, seed=2), title="x")
    assert retagged.stat().st_size != original.stat().st_size  # the tags really grew
    assert fingerprint(original) is not None
    assert fingerprint(retagged) == fingerprint(original)
    assert fingerprint(other) != fingerprint(original)


def test_trailing_id3v1_and_apev2_tags_are_ignored(tmp_path: Path) -> None:
    original = make_track(tmp_path / "a.mp3", noise(2.0), title="x")
    copy = tmp_path / "b.mp3"
    shutil.copyfile(original, copy)
    ape = APEv2()
    ape["Title"] = "an APE title"
    ape.save(copy)
    with open(copy, "ab") as f:
        f.write(b"TAG" + b"v1 title".ljust(125, b"\x00"))
    id3 = ID3(copy)
    id3.add(TIT2(encoding=3, text=["changed"]))
    id3.save()
    assert fingerprint(copy) == fingerprint(original)


def test_files_without_audio_payload_have_none(tmp_path: Path) -> None:
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    assert fingerprint(empty) is None
    header_only = tmp_path / "h.flac"
    header_only.write_bytes(b"fLaC\x80\x00\x00\x22" + b"\x00" * 0x22)
    assert fingerprint(header_only) is None

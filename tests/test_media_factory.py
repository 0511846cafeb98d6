"""The generated media the other tests stand on: every format decodes and carries tags."""

from __future__ import annotations

from pathlib import Path

import mutagen
import pytest

from tests.media import FORMATS, jpeg_bytes, make_track, tone


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_is_written_and_tagged(tmp_path: Path, fmt: str) -> None:
    path = make_track(tmp_path / f"t.{fmt}", tone(330, 0.5), title="Título 東京",
                      artist=["A", "B"], genre=["Rock", "Pop"], cover=jpeg_bytes())
    audio = mutagen.File(path)
    assert audio is not None
    assert audio.info.length == pytest.approx(0.5, abs=0.15)

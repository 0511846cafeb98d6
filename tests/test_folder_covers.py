"""A cover.jpg added, replaced or removed beside unchanged tracks is noticed by a rescan."""

from __future__ import annotations

import os
from pathlib import Path

from player.db import connect
from player.scanner import scan
from tests.media import jpeg_bytes, make_track, tone


def _covers(db: Path) -> dict[str, tuple[str | None, str | None]]:
    """Return title -> (cover hash, its source) for every track."""
    conn = connect(db)
    rows = conn.execute("SELECT t.title, t.cover_hash, c.source FROM tracks t "
                        "LEFT JOIN covers c ON c.hash = t.cover_hash").fetchall()
    conn.close()
    return {title: (h, source) for title, h, source in rows}


def _album(root: Path) -> Path:
    album = root / "Album"
    make_track(album / "01.flac", tone(220, 0.5), title="Plain one", artist="A")
    make_track(album / "02.mp3", tone(330, 0.5), title="Plain two", artist="A")
    make_track(album / "03.ogg", tone(440, 0.5), title="Own art", artist="A",
               cover=jpeg_bytes((250, 0, 0)))
    make_track(root / "Other" / "04.flac", tone(550, 0.5), title="Elsewhere", artist="B")
    return album


def test_added_replaced_and_removed_folder_covers(tmp_path: Path, db_path: Path) -> None:
    album = _album(tmp_path / "music")
    scan([tmp_path / "music"], db_path)
    before = _covers(db_path)
    assert before["Plain one"] == (None, None) and before["Own art"][1] == "embedded"

    (album / "cover.jpg").write_bytes(jpeg_bytes((0, 0, 250)))
    report = scan(None, db_path)
    added = _covers(db_path)
    assert added["Plain one"][1] == added["Plain two"][1] == "folder"
    assert added["Plain one"][0] == added["Plain two"][0]
    assert added["Own art"] == before["Own art"]  # its embedded art still comes first
    assert added["Elsewhere"] == (None, None)  # another folder: not read again
    assert (report.updated, report.unchanged) == (3, 1)

    again = scan(None, db_path)  # nothing changed since: nothing is read
    assert (again.updated, again.unchanged) == (0, 4)

    (album / "cover.jpg").write_bytes(jpeg_bytes((0, 250, 0)))  # a new picture
    os.utime(album / "cover.jpg", ns=(1, 1_000_000_000))  # even with an older date
    scan(None, db_path)
    replaced = _covers(db_path)
    assert replaced["Plain one"][1] == "folder" and replaced["Plain one"][0] != added["Plain one"][0]

    (album / "cover.jpg").unlink()
    scan(None, db_path)
    removed = _covers(db_path)
    assert removed["Plain one"] == removed["Plain two"] == (None, None)
    assert removed["Own art"] == before["Own art"]
    # the two folder pictures no track shows any more are gone, files and all
    cache = db_path.parent / f"{db_path.stem}.cache" / "covers"
    conn = connect(db_path)
    stored = conn.execute("SELECT hash, image_path, thumb_path FROM covers").fetchall()
    conn.close()
    assert [h for h, _i, _t in stored] == [before["Own art"][0]]
    on_disk = {str(p) for p in cache.rglob("*") if p.is_file()}
    assert on_disk == {stored[0][1], stored[0][2]}


def test_a_library_scanned_before_the_migration_adopts_its_covers(tmp_path: Path,
                                                                   db_path: Path) -> None:
    album = _album(tmp_path / "music")
    (album / "cover.jpg").write_bytes(jpeg_bytes((0, 0, 250)))
    scan([tmp_path / "music"], db_path)
    # As the migration leaves a library scanned by an older Timbre: no folder states yet.
    conn = connect(db_path)
    conn.execute("DELETE FROM folder_covers")
    conn.execute("INSERT INTO state (key, value) VALUES ('folder_covers_adopt', 'true')")
    conn.close()
    adopted = scan(None, db_path)
    assert (adopted.updated, adopted.unchanged) == (0, 4)  # recorded, not read again
    (tmp_path / "music" / "Other" / "folder.png").write_bytes(jpeg_bytes((9, 9, 9)))
    later = scan(None, db_path)
    assert (later.updated, later.unchanged) == (1, 3)
    assert _covers(db_path)["Elsewhere"][1] == "folder"

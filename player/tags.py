"""Read a track's tags and stream info with mutagen, whatever the container.

Every value read from a file is untrusted: it is cleaned to plain, bounded text before
it reaches the database. The format is sniffed from the content (mutagen.File), not
taken from the extension.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import mutagen
from mutagen._vorbis import VComment
from mutagen.aiff import AIFF
from mutagen.apev2 import APEv2
from mutagen.asf import ASFTags
from mutagen.flac import FLAC
from mutagen.id3 import ID3
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4, MP4Tags
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

MAX_TEXT = 1000  # characters kept per tag value
MAX_VALUES = 50  # values kept per multi-valued tag
MAX_PICTURE_BYTES = 16 * 1024 * 1024  # larger embedded images are ignored

# Every column of `tracks` a tag read fills, in a fixed order (the scanner writes them).
TAG_COLUMNS = (
    "title", "artist", "artists", "album", "albumartist", "tracknumber", "tracktotal",
    "discnumber", "disctotal", "date", "year", "genre", "genres", "composer", "bpm",
    "compilation", "mb_recording_id", "mb_release_id", "mb_artist_id", "rg_track_gain",
    "rg_track_peak", "rg_album_gain", "rg_album_peak", "duration_s", "bitrate", "sample_rate",
    "channels", "codec",
)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LEADING_INT = re.compile(r"\s*(\d{1,6})")
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


class TagError(Exception):
    """The file is not audio mutagen can read; the message says why."""


@dataclass
class Picture:
    """An embedded image as found in the file (bytes not yet validated)."""

    data: bytes
    mime: str | None


@dataclass
class TrackTags:
    """What one file says about itself; field names are the `tracks` columns."""

    title: str
    artists: list[str] = field(default_factory=list)
    album: str | None = None
    albumartist: str | None = None
    tracknumber: int | None = None
    tracktotal: int | None = None
    discnumber: int | None = None
    disctotal: int | None = None
    date: str | None = None
    year: int | None = None
    genres: list[str] = field(default_factory=list)
    composer: str | None = None
    bpm: float | None = None
    compilation: bool = False
    mb_recording_id: str | None = None
    mb_release_id: str | None = None
    mb_artist_id: str | None = None
    rg_track_gain: float | None = None
    rg_track_peak: float | None = None
    rg_album_gain: float | None = None
    rg_album_peak: float | None = None
    duration_s: float | None = None
    bitrate: int | None = None
    sample_rate: int | None = None
    channels: int | None = None
    codec: str | None = None
    pictures: list[Picture] = field(default_factory=list, repr=False)

    @property
    def artist(self) -> str | None:
        """Return all artists joined with '; ', or None."""
        return "; ".join(self.artists) or None

    @property
    def genre(self) -> str | None:
        """Return all genres joined with '; ', or None."""
        return "; ".join(self.genres) or None

    def column_values(self) -> tuple[Any, ...]:
        """Return the values for TAG_COLUMNS, in order, as SQLite takes them."""
        artists = json.dumps(self.artists, ensure_ascii=False) if self.artists else None
        genres = json.dumps(self.genres, ensure_ascii=False) if self.genres else None
        return (
            self.title, self.artist, artists, self.album, self.albumartist, self.tracknumber,
            self.tracktotal, self.discnumber, self.disctotal, self.date, self.year, self.genre,
            genres, self.composer, self.bpm, int(self.compilation), self.mb_recording_id,
            self.mb_release_id, self.mb_artist_id, self.rg_track_gain, self.rg_track_peak,
            self.rg_album_gain, self.rg_album_peak, self.duration_s, self.bitrate,
            self.sample_rate, self.channels, self.codec,
        )


# --- cleaning untrusted values -------------------------------------------------------


def clean_text(value: object) -> str | None:
    """Return value as one line of plain bounded text, or None when empty."""
    if value is None:
        return None
    if type(value) is str:
        text = value
    elif isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
    else:
        text = str(value)
    if not text.isprintable():  # the common case skips the regex
        text = _CONTROL.sub("", text)
    text = text.strip()[:MAX_TEXT]
    return text or None


def clean_list(values: Iterable[object]) -> list[str]:
    """Return the non-empty cleaned values, without duplicates, in order."""
    out: list[str] = []
    for value in values:
        text = clean_text(value)
        if text and text not in out:
            out.append(text)
        if len(out) >= MAX_VALUES:
            break
    return out


def parse_number_pair(value: object) -> tuple[int | None, int | None]:
    """Return (number, total) from '3', '03/12' or 'A1' (vinyl side: None)."""
    text = clean_text(value)
    if not text:
        return None, None
    number_text, _, total_text = text.partition("/")
    number = _LEADING_INT.match(number_text)
    total = _LEADING_INT.match(total_text)
    return (int(number.group(1)) if number else None, int(total.group(1)) if total else None)


def parse_int(value: object) -> int | None:
    """Return the leading integer of value, or None."""
    return parse_number_pair(value)[0]


def parse_float(value: object, lo: float = -1e9, hi: float = 1e9) -> float | None:
    """Return the first number in value ('-6.5 dB' -> -6.5) if finite and in range."""
    text = clean_text(value)
    if not text:
        return None
    match = _NUMBER.search(text.replace(",", "."))
    if not match:
        return None
    number = float(match.group(0))
    return number if math.isfinite(number) and lo <= number <= hi else None


def parse_year(date: str | None) -> int | None:
    """Return the year in a date string ('1999-03-01', '03/1999'), or None."""
    if not date:
        return None
    match = _YEAR.search(date)
    if match and 1000 <= int(match.group(1)) <= 2999:
        return int(match.group(1))
    return None


def parse_bool(value: object) -> bool:
    """Return True for '1', 'true', 'yes' and for true values."""
    if isinstance(value, bool):
        return value
    text = clean_text(value)
    return bool(text) and text.lower() in ("1", "true", "yes", "y")  # type: ignore[union-attr]


# --- the generic key/value view every tag format is turned into -----------------------


class _Fields:
    """Tag values by lower-case key, each a list of texts."""

    def __init__(self) -> None:
        self.values: dict[str, list[object]] = {}

    def add(self, key: str, values: Iterable[object]) -> None:
        self.values.setdefault(key.lower(), []).extend(values)

    def first(self, *keys: str) -> str | None:
        for key in keys:
            for value in self.values.get(key, ()):
                text = clean_text(value)
                if text:
                    return text
        return None

    def all(self, *keys: str) -> list[str]:
        for key in keys:
            found = clean_list(self.values.get(key, ()))
            if found:
                return found
        return []


def _split_multi(values: list[str]) -> list[str]:
    """Split a single 'Rock; Pop' or 'Rock\\0Pop' value into its parts."""
    if len(values) == 1:
        parts = re.split(r"\s*[;\x00]\s*", values[0])
        return clean_list(parts)
    return values


def _from_vorbis(tags: Any, fields: _Fields, pictures: list[Picture]) -> None:
    """Vorbis comments (FLAC, Ogg Vorbis, Opus, Ogg FLAC, Speex)."""
    for key, value in tags:
        lower = key.lower()
        if lower == "metadata_block_picture":
            _vorbis_picture(value, pictures)
        elif lower == "coverart":  # the legacy unofficial spelling, base64 image bytes
            if len(value) * 3 // 4 <= MAX_PICTURE_BYTES:
                try:
                    pictures.append(Picture(base64.b64decode(value), None))
                except ValueError:
                    pass
        else:
            fields.add(lower, [value])
    # Opus: R128 gains are Q7.8 dB relative to -23 LUFS; ReplayGain's reference is -18.
    for name in ("track", "album"):
        r128 = fields.first(f"r128_{name}_gain")
        if r128 is not None and fields.first(f"replaygain_{name}_gain") is None:
            q = parse_float(r128, -32768, 32767)
            if q is not None:
                fields.add(f"replaygain_{name}_gain", [f"{q / 256.0 + 5.0:.2f}"])


def _vorbis_picture(value: str, pictures: list[Picture]) -> None:
    if len(value) * 3 // 4 > MAX_PICTURE_BYTES + 4096:
        return
    from mutagen.flac import Picture as FlacPicture

    try:
        picture = FlacPicture(base64.b64decode(value))
    except Exception:  # noqa: BLE001 - hostile bytes raise anything: skip the image
        return
    pictures.append(Picture(picture.data, picture.mime or None))


def _from_id3(tags: Any, fields: _Fields, pictures: list[Picture]) -> None:
    """ID3v2 (MP3, and WAV/AIFF with an ID3 chunk)."""
    simple = {"TIT2": "title", "TPE1": "artist", "TALB": "album", "TPE2": "albumartist",
              "TRCK": "tracknumber", "TPOS": "discnumber", "TCOM": "composer", "TBPM": "bpm",
              "TCMP": "compilation", "TDRC": "date", "TYER": "date", "TDOR": "originaldate"}
    fronts: list[Picture] = []
    others: list[Picture] = []
    for frame in tags.values():
        frame_id = frame.FrameID
        if frame_id in simple:
            fields.add(simple[frame_id], [str(t) for t in frame.text])
        elif frame_id == "TCON":
            fields.add("genre", frame.genres)
        elif frame_id == "TXXX":
            fields.add(frame.desc, [str(t) for t in frame.text])
        elif frame_id == "UFID" and frame.owner == "http://musicbrainz.org":
            fields.add("musicbrainz_trackid", [frame.data])
        elif frame_id == "RVA2" and frame.channel == 1:  # master volume
            name = (frame.desc or "").lower()
            if name in ("track", "album"):
                fields.add(f"rva2_{name}_gain", [f"{frame.gain:.2f}"])
                fields.add(f"rva2_{name}_peak", [f"{frame.peak:.6f}"])
        elif frame_id == "APIC" and len(frame.data) <= MAX_PICTURE_BYTES:
            (fronts if frame.type == 3 else others).append(Picture(frame.data, frame.mime))
    pictures.extend(fronts + others)
    # The legacy RVA2 frame only when no REPLAYGAIN_* TXXX frame says otherwise.
    for name in ("track", "album"):
        for what in ("gain", "peak"):
            rva2 = fields.values.get(f"rva2_{name}_{what}")
            if rva2 and not fields.values.get(f"replaygain_{name}_{what}"):
                fields.add(f"replaygain_{name}_{what}", rva2)


_MP4_KEYS = {"\xa9nam": "title", "\xa9art": "artist", "\xa9alb": "album",
             "aart": "albumartist", "\xa9day": "date", "\xa9gen": "genre",
             "\xa9wrt": "composer"}


def _from_mp4(tags: Any, fields: _Fields, pictures: list[Picture]) -> None:
    """MP4/M4A atoms and iTunes freeform atoms."""
    for key, values in tags.items():
        lower = key.lower()
        if lower in _MP4_KEYS:
            fields.add(_MP4_KEYS[lower], values)
        elif lower in ("trkn", "disk"):
            name = "track" if lower == "trkn" else "disc"
            for pair in values[:1]:
                number, total = (tuple(pair) + (0, 0))[:2]
                if number:
                    fields.add(f"{name}number", [str(number)])
                if total:
                    fields.add(f"{name}total", [str(total)])
        elif lower == "gnre":  # ID3v1 genre numbers
            from mutagen.id3 import TCON

            for number in values:
                fields.add("genre", TCON(text=[f"({int(number) - 1})"]).genres)
        elif lower == "tmpo":
            fields.add("bpm", [str(v) for v in values])
        elif lower == "cpil":
            fields.add("compilation", ["1" if values else "0"])
        elif lower == "covr":
            for cover in values:
                if len(cover) <= MAX_PICTURE_BYTES:
                    mime = "image/png" if getattr(cover, "imageformat", 0) == 14 else "image/jpeg"
                    pictures.append(Picture(bytes(cover), mime))
        elif lower.startswith("----:"):
            name = lower.rsplit(":", 1)[-1]
            fields.add(name, [bytes(v) for v in values])


def _from_asf(tags: Any, fields: _Fields, pictures: list[Picture]) -> None:
    """ASF/WMA attributes."""
    names = {"title": "title", "author": "artist", "wm/albumtitle": "album",
             "wm/albumartist": "albumartist", "wm/tracknumber": "tracknumber",
             "wm/partofset": "discnumber", "wm/year": "date", "wm/genre": "genre",
             "wm/composer": "composer", "wm/beatsperminute": "bpm",
             "wm/iscompilation": "compilation", "musicbrainz/track id": "musicbrainz_trackid",
             "musicbrainz/album id": "musicbrainz_albumid",
             "musicbrainz/artist id": "musicbrainz_artistid"}
    for key, values in tags.items():
        lower = key.lower()
        texts = [str(getattr(v, "value", v)) for v in values if not isinstance(
            getattr(v, "value", None), bytes)]
        fields.add(names.get(lower, lower), texts)


_CODECS = {
    "MP3": "mp3", "EasyMP3": "mp3", "FLAC": "flac", "OggFLAC": "flac", "OggVorbis": "vorbis",
    "OggOpus": "opus", "OggSpeex": "speex", "WAVE": "pcm", "AIFF": "pcm", "ASF": "wma",
    "MonkeysAudio": "ape", "WavPack": "wavpack", "Musepack": "musepack", "TrueAudio": "tta",
    "AAC": "aac", "AC3": "ac3", "DSF": "dsd", "DSDIFF": "dsd",
}


def _codec(audio: Any) -> str | None:
    kind = type(audio).__name__
    info = audio.info
    if kind == "MP4":
        codec = str(getattr(info, "codec", "") or "")
        return "alac" if codec == "alac" else "aac" if codec.startswith("mp4a") else codec or None
    return _CODECS.get(kind, kind.lower())


def _stream_info(audio: Any, tags: TrackTags, size: int) -> None:
    info = audio.info
    length = getattr(info, "length", None)
    if isinstance(length, (int, float)) and math.isfinite(length) and length > 0:
        tags.duration_s = float(length)
    for name in ("sample_rate", "channels", "bitrate"):
        value = getattr(info, name, None)
        if isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
            setattr(tags, name, int(value))
    if tags.bitrate is None and tags.duration_s and size:
        tags.bitrate = int(size * 8 / tags.duration_s)
    tags.codec = _codec(audio)
    if tags.codec == "opus" and tags.sample_rate is None:
        tags.sample_rate = 48_000  # Opus always decodes at 48 kHz


def _sniff(fileobj: BinaryIO, path: str | bytes | os.PathLike[Any]) -> Any:
    """Return the mutagen class for an unambiguous header, else None (mutagen.File decides).

    mutagen.File scores every format it knows against the header; the common formats
    have a magic number that settles it, and skipping the scoring is ~15% of a tag read.
    """
    head = fileobj.read(64)
    fileobj.seek(0)
    if head.startswith(b"fLaC"):
        return FLAC
    if head.startswith(b"OggS"):
        return OggOpus if b"OpusHead" in head else OggVorbis if b"\x01vorbis" in head else None
    if head[4:8] == b"ftyp":
        return MP4
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return WAVE
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return AIFF
    if head.startswith(b"ID3") and os.fsencode(path).lower().endswith(b".mp3"):
        return MP3  # an ID3 tag also prefixes some FLAC and AAC files: only trust .mp3
    return None


def read_tags(path: str | bytes | os.PathLike[Any], size: int | None = None,
              fileobj: BinaryIO | None = None) -> TrackTags:
    """Read one file's tags, pictures and stream info.

    Pass fileobj (opened on path, binary) to read from it instead of opening path again.
    Raises TagError (with a reason for the user) when the file is not readable audio.
    """
    if fileobj is None:
        try:
            with open(path, "rb") as f:
                return read_tags(path, size, f)
        except OSError as exc:
            raise TagError(f"cannot read the file: {exc.strerror or exc}") from exc
    try:
        kind = _sniff(fileobj, path)
        # a magic number beats the extension (mutagen.File weighs the extension more)
        audio = kind(fileobj) if kind is not None else mutagen.File(fileobj)
    except mutagen.MutagenError as exc:
        raise TagError(f"not readable audio: {_reason(exc, path)}") from exc
    except (OSError, ValueError, EOFError, IndexError, KeyError, TypeError, AssertionError,
            OverflowError, UnicodeError, ZeroDivisionError, AttributeError) as exc:
        # mutagen raises more than MutagenError on hostile bytes
        raise TagError(
            f"not readable audio ({type(exc).__name__}: {_reason(exc, path)})") from exc
    if audio is None:
        raise TagError("not a recognised audio format")
    fields = _Fields()
    pictures: list[Picture] = []
    raw = audio.tags
    if isinstance(raw, ID3):
        _from_id3(raw, fields, pictures)
    elif isinstance(raw, VComment):
        _from_vorbis(list(raw), fields, pictures)
    elif isinstance(raw, MP4Tags):
        _from_mp4(raw, fields, pictures)
    elif isinstance(raw, ASFTags):
        _from_asf(raw.as_dict(), fields, pictures)
    elif isinstance(raw, APEv2):  # Monkey's Audio, WavPack, Musepack
        _from_vorbis([(k, str(v)) for k, v in raw.items() if v.kind == 0], fields, pictures)
    for picture in getattr(audio, "pictures", None) or ():  # FLAC picture blocks
        if len(picture.data) <= MAX_PICTURE_BYTES:
            pictures.insert(0, Picture(picture.data, picture.mime or None))
    if size is None:
        try:
            size = os.fstat(fileobj.fileno()).st_size
        except OSError:
            size = 0
    return _assemble(path, fields, pictures, audio, size)


_NUMBERED_NAME = re.compile(
    r"(?:\d{1,2}[-.])?"  # a disc number: "1-02 Title", "2.07 Title"
    r"(?P<number>0\d{1,2}(?=[\s._-])|\d{1,3}(?=\s*[-.]\s|_))"  # "01 ", "1. ", "7 - ", "12_"
    r"[\s._-]+(?P<rest>\S.*)$")


def title_from_name(stem: str) -> tuple[int | None, str]:
    """Return (track number, title) for a file that has no title tag, from its name.

    A leading track number is taken off when it cannot be part of the title: zero-padded
    ("01 Song"), or followed by a dot, a dash or an underscore ("1. Song", "7 - Song",
    "12_Song"), optionally after a disc number ("1-02 Song"). "99 Luftballons" keeps its
    number. Underscores read as spaces when the name has no spaces at all.
    """
    name = clean_text(stem) or "?"
    number: int | None = None
    match = _NUMBERED_NAME.match(name)
    if match and match["rest"].strip(" ._-"):
        number = int(match["number"]) or None
        name = match["rest"].strip()
    if "_" in name and " " not in name:
        name = " ".join(name.replace("_", " ").split()) or name
    return number, name


def _reason(exc: BaseException, path: str | bytes | os.PathLike[Any]) -> str:
    """Return the error text without the file's own path (it is shown beside it)."""
    text = str(exc)
    spellings = {repr(path), repr(os.fsencode(path)), repr(os.fsdecode(path)), str(path)}
    for spelling in sorted(spellings, key=len, reverse=True):
        text = text.replace(spelling, "the file")
    return text[:300]


def _assemble(path: Any, fields: _Fields, pictures: list[Picture], audio: Any,
              size: int) -> TrackTags:
    name = os.fsencode(path).rsplit(b"/", 1)[-1]
    stem = name.rsplit(b".", 1)[0] if b"." in name[1:] else name
    named_number, named_title = title_from_name(stem.decode("utf-8", "backslashreplace"))
    tags = TrackTags(title=fields.first("title") or named_title)
    tags.artists = _split_multi(fields.all("artists")) or _split_multi(fields.all("artist"))
    tags.album = fields.first("album")
    tags.albumartist = fields.first("albumartist", "album artist", "album_artist")
    tags.tracknumber, tracktotal = parse_number_pair(fields.first("tracknumber", "track"))
    if tags.tracknumber is None and not fields.first("title"):
        tags.tracknumber = named_number
    tags.tracktotal = tracktotal or parse_int(fields.first("tracktotal", "totaltracks"))
    tags.discnumber, disctotal = parse_number_pair(fields.first("discnumber", "disc"))
    tags.disctotal = disctotal or parse_int(fields.first("disctotal", "totaldiscs"))
    tags.date = fields.first("date", "year", "originaldate")
    tags.year = parse_year(tags.date)
    tags.genres = _split_multi(fields.all("genre"))
    tags.composer = "; ".join(fields.all("composer")) or None
    tags.bpm = parse_float(fields.first("bpm", "tbpm"), 1.0, 1000.0)
    tags.compilation = parse_bool(fields.first("compilation", "itunescompilation"))
    tags.mb_recording_id = fields.first("musicbrainz_trackid", "musicbrainz track id",
                                        "musicbrainz_recordingid")
    tags.mb_release_id = fields.first("musicbrainz_albumid", "musicbrainz album id")
    tags.mb_artist_id = fields.first("musicbrainz_artistid", "musicbrainz artist id")
    for gain in ("track", "album"):
        setattr(tags, f"rg_{gain}_gain", parse_float(
            fields.first(f"replaygain_{gain}_gain"), -60.0, 60.0))
        setattr(tags, f"rg_{gain}_peak", parse_float(
            fields.first(f"replaygain_{gain}_peak"), 0.0, 100.0))
    tags.pictures = pictures
    _stream_info(audio, tags, size)
    return tags

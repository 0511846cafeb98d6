"""An audio-content fingerprint that ignores tag bytes, so a retagged file keeps it.

No decoding: find where the container keeps the audio payload (MP3 after the ID3v2 tag
and before ID3v1/APEv2, FLAC after the metadata blocks, MP4's mdat, the WAV/AIFF data
chunk, Ogg pages after the header packets, ASF after the header object) and hash its
length and three blocks of it. Two files with the same fingerprint hold the same encoded
audio; a re-encode is a different fingerprint (that is what tags and MusicBrainz ids
are for).
"""

from __future__ import annotations

import hashlib
import os
import struct
from typing import BinaryIO

BLOCK = 4096  # three of these, plus the payload's exact length
VERSION = "1"
_MAX_CHUNKS = 10_000  # hostile files: bound the container walk


def fingerprint(path: str | bytes | os.PathLike[str]) -> str | None:
    """Return the fingerprint of a file's audio payload, or None when it has none."""
    with open(path, "rb") as f:
        return fingerprint_file(f)


def fingerprint_file(f: BinaryIO) -> str | None:
    """Return the fingerprint of an open binary file (see fingerprint())."""
    size = os.fstat(f.fileno()).st_size
    f.seek(0)
    head = f.read(12)
    if head.startswith(b"ID3"):
        start = _skip_id3v2(f, 0)
        f.seek(start)
        head = f.read(12)
        if head.startswith(b"fLaC"):
            region = _flac(f, start, size)
        else:
            region = (start, _mp3_end(f, start, size))
    elif head.startswith(b"fLaC"):
        region = _flac(f, 0, size)
    elif head.startswith(b"OggS"):
        return _ogg(f, size)
    elif head[4:8] == b"ftyp":
        region = _mp4(f, size)
    elif head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        region = _iff(f, size, b"data", "<", 12)
    elif head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        region = _iff(f, size, b"SSND", ">", 12)
    elif head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):  # the ASF header object GUID
        f.seek(16)
        header_size = struct.unpack("<Q", f.read(8))[0]
        region = (header_size, size) if 0 < header_size < size else None
    else:  # plain MPEG audio and anything else: all but trailing tags
        region = (0, _mp3_end(f, 0, size))
    if region is None or region[1] <= region[0]:
        return None
    return _hash_region(f, *region)


def _hash_region(f: BinaryIO, start: int, end: int) -> str:
    length = end - start
    digest = hashlib.sha1(f"{VERSION}:{length}:".encode())
    for offset in sorted({start, start + max(0, length // 2 - BLOCK // 2),
                          max(start, end - BLOCK)}):
        f.seek(offset)
        digest.update(f.read(min(BLOCK, end - offset)))
    return digest.hexdigest()


def _skip_id3v2(f: BinaryIO, offset: int) -> int:
    """Return the offset after any ID3v2 tags starting at offset."""
    for _ in range(16):  # some files carry several tags back to back
        f.seek(offset)
        header = f.read(10)
        if len(header) < 10 or not header.startswith(b"ID3"):
            return offset
        b = header[6:10]
        tag_size = (b[0] & 0x7F) << 21 | (b[1] & 0x7F) << 14 | (b[2] & 0x7F) << 7 | (b[3] & 0x7F)
        footer = 10 if header[5] & 0x10 else 0
        offset += 10 + tag_size + footer
    return offset


def _mp3_end(f: BinaryIO, start: int, size: int) -> int:
    """Return the end of the audio before trailing ID3v1, Lyrics3 and APEv2 tags."""
    end = size
    if end - start >= 128:
        f.seek(end - 128)
        if f.read(3) == b"TAG":
            end -= 128
    if end - start >= 32:
        f.seek(end - 32)
        footer = f.read(32)
        if footer.startswith(b"APETAGEX"):
            tag_size, _count, flags = struct.unpack("<III", footer[12:24])
            end -= tag_size + (32 if flags & 0x80000000 else 0)
    return max(start, end)


def _flac(f: BinaryIO, start: int, size: int) -> tuple[int, int] | None:
    offset = start + 4
    for _ in range(_MAX_CHUNKS):
        f.seek(offset)
        header = f.read(4)
        if len(header) < 4:
            return None
        offset += 4 + int.from_bytes(header[1:4], "big")
        if header[0] & 0x80:  # the last metadata block
            return offset, _mp3_end(f, offset, size)
    return None


def _mp4(f: BinaryIO, size: int) -> tuple[int, int] | None:
    offset = 0
    for _ in range(_MAX_CHUNKS):
        f.seek(offset)
        header = f.read(16)
        if len(header) < 8:
            return None
        atom_size = struct.unpack(">I", header[:4])[0]
        header_len = 8
        if atom_size == 1:
            atom_size = struct.unpack(">Q", header[8:16])[0]
            header_len = 16
        elif atom_size == 0:
            atom_size = size - offset
        if header[4:8] == b"mdat":
            return offset + header_len, min(size, offset + atom_size)
        if atom_size < header_len:
            return None
        offset += atom_size
    return None


def _iff(f: BinaryIO, size: int, wanted: bytes, order: str, offset: int) -> tuple[int, int] | None:
    for _ in range(_MAX_CHUNKS):
        f.seek(offset)
        header = f.read(8)
        if len(header) < 8:
            return None
        chunk_size = struct.unpack(order + "I", header[4:8])[0]
        if header[:4] == wanted:
            return offset + 8, min(size, offset + 8 + chunk_size)
        offset += 8 + chunk_size + (chunk_size & 1)
    return None


def _ogg_page_len(header: bytes) -> int | None:
    """Return the length of the Ogg page starting with header (27+ bytes), or None."""
    if len(header) < 27 or not header.startswith(b"OggS") or header[4] != 0:
        return None
    segments = header[26]
    if len(header) < 27 + segments:
        return None
    return 27 + segments + sum(header[27 : 27 + segments])


def _ogg(f: BinaryIO, size: int) -> str | None:
    """Hash Ogg audio pages with their sequence numbers and CRCs masked out.

    Header pages (identification, comments, setup) carry granule position 0, or -1 when a
    long comment packet spans pages; the first page with another granule is audio. Tags
    live in the header packets, so retagging only shifts the audio pages and renumbers them.
    """
    offset = 0
    audio_start = None
    for _ in range(_MAX_CHUNKS):
        f.seek(offset)
        header = f.read(27 + 255)
        page_len = _ogg_page_len(header)
        if page_len is None:
            return None
        granule = header[6:14]
        if granule not in (b"\x00" * 8, b"\xff" * 8):
            audio_start = offset
            break
        offset += page_len
    if audio_start is None:
        return None
    length = size - audio_start
    digest = hashlib.sha1(f"{VERSION}:ogg:{length}:".encode())
    for target in (audio_start, audio_start + length // 2, max(audio_start, size - BLOCK)):
        f.seek(target)
        block = f.read(BLOCK + 27 + 255)
        # the first page starting at or after target, found identically in any retag
        at = block.find(b"OggS")
        while at >= 0 and _ogg_page_len(block[at : at + 27 + 255]) is None:
            at = block.find(b"OggS", at + 1)
        if at < 0:
            continue
        page = bytearray(block[at : at + BLOCK])
        pos = 0
        while pos < len(page):
            page_len = _ogg_page_len(bytes(page[pos : pos + 27 + 255]))
            if page_len is None:
                break
            page[pos + 18 : pos + 26] = b"\x00" * 8  # sequence number and CRC
            pos += page_len
        digest.update(bytes(page))
    return digest.hexdigest()

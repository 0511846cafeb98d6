"""Untrusted text files read as streams: the encoding found without holding the file, and
the items of a JSON array decoded one at a time (json.JSONDecoder.raw_decode over chunks).
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

MAX_ITEM_CHARS = 1024**2  # one item of a JSON array larger than this is refused
CHUNK_CHARS = 64 * 1024  # how much of a JSON array is decoded at a time


class TextFileError(ValueError):
    """The file cannot be read as text; the message says why, for the user."""


def open_text(path: Path) -> io.TextIOWrapper:
    """Open an untrusted text file in the first encoding that decodes all of it.

    UTF-8 (with or without a BOM), else Windows-1252, else Latin-1; UTF-16 when it starts
    with its BOM. The check reads the file once in chunks, never whole.
    """
    try:
        with path.open("rb") as f:
            head = f.read(65536)
            utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff"))
            if b"\0" in head and not utf16:
                raise TextFileError(f"{path.name} holds binary data, not text")
            encoding = next((e for e in (("utf-8-sig", "utf-16") if utf16
                                         else ("utf-8-sig", "cp1252", "latin-1"))
                             if _decodes(f, e)), None)
        if encoding is None:
            raise TextFileError(f"{path.name} is not UTF-8 text")
        # newline="": the csv module reads quoted line breaks itself; "replace" in case
        # the file changed since the check
        return path.open(encoding=encoding, errors="replace", newline="")
    except OSError as exc:
        raise TextFileError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _decodes(f: IO[bytes], encoding: str) -> bool:
    """Return whether the whole of f decodes in encoding (reading it in 256 KB chunks)."""
    f.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        while chunk := f.read(256 * 1024):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def bytes_read(text: io.TextIOWrapper) -> int:
    """Return how far into its file a text stream has read, in bytes (to within a buffer)."""
    return cast("io.BufferedReader", text.buffer).tell()


def first_char(text: IO[str]) -> str:
    """Return the first character that is not white space, leaving the file at the start."""
    head = text.read(4096).lstrip("\ufeff \t\r\n")
    text.seek(0)
    return head[:1]


def json_array_items(text: IO[str]) -> Iterator[Any]:
    """Yield the items of the JSON array text holds, decoding CHUNK_CHARS at a time.

    Raises ValueError where the JSON is broken (or an item exceeds MAX_ITEM_CHARS).
    """
    decoder = json.JSONDecoder()
    buf, pos, eof = "", 0, False

    def fill() -> bool:
        nonlocal buf, pos, eof
        chunk = "" if eof else text.read(CHUNK_CHARS)
        eof = eof or not chunk
        buf, pos = buf[pos:] + chunk, 0
        return bool(chunk)

    def next_char() -> str:
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n\ufeff":
                pos += 1
            if pos < len(buf) or not fill():
                return buf[pos] if pos < len(buf) else ""

    if next_char() != "[":
        raise ValueError("expected a JSON array")
    pos += 1
    if next_char() == "]":
        return
    while True:
        next_char()
        while True:
            try:
                item, end = decoder.raw_decode(buf, pos)
                error = ""
            except json.JSONDecodeError as exc:
                end, error = -1, exc.msg  # its line and column would be the buffer's
            # broken, or ending within two characters of what is read so far (a number
            # may go on: "1" of "1e-5"): read more and decode again, unless at the end
            if (end < 0 or len(buf) - end < 3) and not eof:
                if len(buf) - pos > MAX_ITEM_CHARS:
                    raise ValueError(f"an item longer than {MAX_ITEM_CHARS:,} characters")
                fill()
                continue
            if error:
                raise ValueError(error)
            break
        pos = end
        separator = next_char()
        pos += 1
        yield item
        if separator == "]":
            return
        if separator != ",":
            raise ValueError("expected , or ] between the items" if separator
                             else "the array is not closed")

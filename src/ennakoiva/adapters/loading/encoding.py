"""Find a CSV file's text encoding and decode it, with errors that name the line.

Finnish registers and Statistics Finland (e.g. Paavo) still export Latin-1/Windows-1252, DOS
tools cp850. charset-normalizer alone guesses badly on short Finnish samples (``hp_roman8``,
``mac_roman`` and even ``big5`` for "Töölö"), so the Western encodings these files actually come
in are tried first and judged by whether their non-ASCII characters decode to Latin letters such
as ä, ö, å; only when none fits is charset-normalizer's best guess used. (Bytes alone cannot tell
a Cyrillic cp1251 file from cp1252, so such encodings must be given explicitly.)
"""

from __future__ import annotations

import codecs

import numpy as np
from charset_normalizer import from_bytes

from ennakoiva.adapters.loading.errors import LoadError

__all__ = ["decode", "detect_encoding"]

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Tried in order for non-UTF-8 bytes; cp1252 decodes Latin-1 text identically (plus €, quotes).
_WESTERN = ("cp1252", "latin_1", "cp850")
_MIN_LETTER_SHARE = 0.9


def _is_latin_letter(byte: int, encoding: str) -> bool | None:
    """Whether ``byte`` reads as a Latin-1 letter (À–ÿ but × and ÷); None if it is undefined."""
    try:
        ch = bytes([byte]).decode(encoding)
    except UnicodeDecodeError:
        return None
    return "\u00c0" <= ch <= "\u00ff" and ch not in "\u00d7\u00f7"


def _western(data: bytes) -> str | None:
    """The Western code page whose reading of the non-ASCII bytes is mostly Latin letters.

    Single-byte code pages decode byte by byte, so a histogram of the bytes is all it takes.
    """
    counts = np.bincount(np.frombuffer(data, dtype=np.uint8), minlength=256)[0x80:]
    used = np.flatnonzero(counts)
    best, best_share = None, 0.0
    for name in _WESTERN:
        letters = [_is_latin_letter(0x80 + int(b), name) for b in used]
        if None in letters:
            continue
        share = float(counts[used][np.array(letters, dtype=bool)].sum() / counts[used].sum())
        if share > best_share:
            best, best_share = name, share
    return best if best_share >= _MIN_LETTER_SHARE else None


def detect_encoding(data: bytes) -> str:
    """The encoding of ``data``: a BOM, else UTF-8 if it decodes, else a Western code page, else
    charset-normalizer's guess.

    >>> detect_encoding("Töölö".encode("utf-8")), detect_encoding("Åsa, Töölö".encode("latin-1"))
    ('utf-8', 'cp1252')
    """
    return decode(data, None, "data")[1]


def decode(data: bytes, encoding: str | None, file: str) -> tuple[str, str]:
    """``data`` as text and the encoding used (detected when ``encoding`` is None).

    An undecodable byte under a given encoding raises LoadError naming file, line and column.
    """
    if encoding is None:
        for bom, name in _BOMS:
            if data.startswith(bom):
                return _decode(data, name, file), name
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
        encoding = _western(data)
        if encoding is None:
            guess = from_bytes(data).best()
            if guess is None:
                raise LoadError(f"{file}: cannot tell the text encoding; give it (e.g. --encoding cp1252)")
            encoding = str(guess.encoding)
    return _decode(data, encoding, file), encoding


def _decode(data: bytes, encoding: str, file: str) -> str:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise LoadError(f"{file}: unknown encoding {encoding!r}") from None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise LoadError(
            f"{file}: line {line}, byte {column}: 0x{data[exc.start]:02x} is not valid {encoding}; the file "
            "is in another encoding (leave the encoding out to detect it, or try cp1252)", line=line,
        ) from None

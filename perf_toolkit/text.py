"""Text helpers shared by the writers: safe text for XML, display width, safe file names."""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

#: Characters XML 1.0 forbids (C0 controls but TAB/LF/CR, U+FFFE/U+FFFF) and lone surrogates.
_XML_FORBIDDEN_CHARS = "\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff"
_XML_FORBIDDEN = re.compile(f"[{_XML_FORBIDDEN_CHARS}]")
#: Bidi overrides and isolates: invisible, they reorder what a reader sees.
_BIDI_CHARS = "\u202a-\u202e\u2066-\u2069"
_BIDI = re.compile(f"[{_BIDI_CHARS}]")
#: Typographic repairs: the small-form brackets ﹝﹞ often typed in 文号 print tiny; 〔〕 is the standard's.
_TYPO_REPAIRS = {"\ufe5d": "〔", "\ufe5e": "〕"}
_TYPO = str.maketrans(_TYPO_REPAIRS)
#: Any character `scrub` changes: most texts hold none and are returned after one search.
_SCRUBBED = re.compile(f"[{_XML_FORBIDDEN_CHARS}{_BIDI_CHARS}{''.join(_TYPO_REPAIRS)}]")

_FORBIDDEN_IN_NAMES = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')
_RESERVED_NAMES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
#: What one Excel cell holds: longer text is cut to it, with a `text-too-long` finding (workbook and JSON alike).
MAX_CELL_TEXT = 32_767
MAX_NAME_BYTES = 180  # + "-编码" + "-绩效自评报告.docx" + atomic_write's ".….tmp" stays under 255 bytes


def scrub(text: str) -> str:
    """Text with XML-forbidden characters, lone surrogates and bidi controls removed (no trimming)."""
    if _SCRUBBED.search(text) is None:
        return text
    return _BIDI.sub("", _XML_FORBIDDEN.sub("", text)).translate(_TYPO)


def xml_safe(text: str) -> str:
    """Text without what XML 1.0 (so Word and Excel) cannot hold: lone surrogates, NUL, C0 controls."""
    return _XML_FORBIDDEN.sub("", text)


def clean_text(value: Any) -> str:
    """User text made safe for a document: scrubbed, line breaks normalised, trimmed; None is ""."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return scrub(text).strip()


def display_width(text: str, *, ambiguous_wide: bool = False) -> int:
    """Width of the longest line in terminal cells or Excel column units: CJK characters count double.

    East-Asian ambiguous characters (“ ” · …) are narrow in a terminal but wide in a CJK
    spreadsheet font, hence `ambiguous_wide` for column widths.
    """
    if text.__class__ is str and text.isascii():  # no ASCII character is wide or ambiguous
        return max(map(len, text.split("\n")))
    wide = "WFA" if ambiguous_wide else "WF"
    return max((sum(2 if unicodedata.east_asian_width(c) in wide else 1 for c in line)
                for line in str(text).split("\n")), default=0)


def safe_name(text: str, fallback: str = "未命名", max_bytes: int = MAX_NAME_BYTES) -> str:
    """A file-name part safe on Windows, macOS, Linux and in zip files (no \\/:*?"<>|, controls, CON…)."""
    s = re.sub(r"\s+", " ", unicodedata.normalize("NFC", clean_text(text)))
    s = "".join(c for c in s if unicodedata.category(c) not in ("Cf", "Cc", "Zl", "Zp"))
    s = _FORBIDDEN_IN_NAMES.sub("_", s)
    while len(s.encode("utf-8")) > max_bytes:
        s = s[:-1]
    s = s.strip(" .")
    if not s:
        s = fallback
    if s.split(".")[0].strip().upper() in _RESERVED_NAMES:
        s = "_" + s
    return s

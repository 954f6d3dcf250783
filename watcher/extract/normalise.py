"""Text normalisation shared by every extractor.

Two texts that a reader would call the same must normalise to the same
string: this is what keeps whitespace, non-breaking spaces and invisible
characters from ever becoming a new version.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from watcher.errors import ExtractionError

# Unicode spaces that browsers and PDFs produce where a plain space is meant.
_SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\t\f\v"
# Invisible characters: zero-width space/joiners, word joiner, BOM, soft hyphen.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_TRANSLATION = {ord(ch): " " for ch in _SPACES} | {ord(ch): None for ch in _INVISIBLE}
# What _TRANSLATION does, as two substitutions: str.translate with a dict
# walks a non-ASCII text in Python-level lookups (2.4 ms for a 30k-character
# page with a few no-break spaces, against 0.45 ms; measured). Most texts
# need neither, and a character-class search finds out in a tenth of the time.
_NEEDS_TRANSLATION = re.compile(f"[{re.escape(_SPACES + _INVISIBLE)}]")
_SPACE = re.compile(f"[{re.escape(_SPACES)}]")
_INVISIBLE_CHARS = re.compile(f"[{re.escape(_INVISIBLE)}]")


def _translate(text: str) -> str:
    if not _NEEDS_TRANSLATION.search(text):
        return text
    return _INVISIBLE_CHARS.sub("", _SPACE.sub(" ", text))


# In ASCII text, what `" ".join(text.split())` changes: the whitespace
# str.split() knows other than the single space, and a space that is not single.
_ASCII_UNSPLIT = ("  ", "\n", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")


def collapse_whitespace(text: str) -> str:
    """`" ".join(text.split())`: the renderers' inline text, one line per block.

    Most of it is ASCII with single spaces already, which substring searches
    find out in a third of the time the split and join take (measured: a
    300-character paragraph, 1.0 µs against 2.9 µs).
    """
    if text.isascii() and text[:1] != " " and text[-1:] != " ":
        for marker in _ASCII_UNSPLIT:
            if marker in text:
                break
        else:
            return text
    return " ".join(text.split())


@lru_cache(maxsize=256)
def compile_ignore(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """Compile `ignore` regexes once per distinct tuple (extraction runs thousands of times)."""
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise ExtractionError(f"invalid ignore pattern {pattern!r}: {exc}") from None
    return tuple(compiled)


def normalise_line(line: str) -> str:
    """One line with Unicode spaces made plain, invisibles removed, whitespace collapsed."""
    return " ".join(_translate(unicodedata.normalize("NFC", line)).split())


# Where a text that needs the line loop of `normalise` differs from one that
# does not, once `_translate` has run: a space that is not single, an empty
# line or a line with spaces at its ends, and whitespace or line breaks other
# than " " and "\n" that str.split() and str.splitlines() know and
# `_translate` has not made plain spaces.
_NOT_CLEAN = (
    "  ",
    "\n\n",
    " \n",
    "\n ",
    "\r",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x1f",
)
_NOT_CLEAN_WIDE = ("\x85", "\u2028", "\u2029")


def _clean(text: str, ascii_only: bool) -> bool:
    """True when every line of `text` is already as the line loop would make it.

    Most extracted text is: the renderers collapse whitespace as they go. A
    substring search per marker is ~100× faster than the loop (a regex with
    alternations was slower than the loop).
    """
    if text[:1] in (" ", "\n") or text[-1:] in (" ", "\n"):
        return False
    if any(marker in text for marker in _NOT_CLEAN):
        return False
    return ascii_only or not any(marker in text for marker in _NOT_CLEAN_WIDE)


def normalise(text: str, ignore: Sequence[str] = ()) -> str:
    """Normalise extracted text: NFC, plain spaces, no invisible characters,
    whitespace collapsed inside each line, lines stripped, empty lines dropped,
    and lines matching any `ignore` regex (re.search) dropped.

    Curly quotes and dashes are kept: they are content.
    """
    return normalise_counting(text, ignore)[0]


def normalise_counting(text: str, ignore: Sequence[str] = ()) -> tuple[str, int]:
    """`normalise`, and the number of words of the result.

    The result has single spaces between words and single line breaks between
    lines, and nothing else: counting those is `len(result.split())` without
    building a list of every word (0.4 ms for a 40,000-character page).
    """
    patterns = compile_ignore(tuple(ignore)) if ignore else ()
    text = unicodedata.normalize("NFC", text)
    ascii_only = text.isascii()
    # In ASCII, the tab, vertical tab and form feed are all _translate changes.
    if not ascii_only or "\t" in text or "\x0b" in text or "\x0c" in text:
        translated = _translate(text)
        if translated is not text and not ascii_only:
            # An invisible removed from between a letter and its accent
            # leaves a pair NFC composes: without this, normalising twice
            # would not give the same text.
            translated = unicodedata.normalize("NFC", translated)
        text = translated
    if _clean(text, ascii_only):
        if not patterns:
            return text, (text.count(" ") + text.count("\n") + 1 if text else 0)
        candidates = text.split("\n") if text else []
    else:
        # splitlines() also splits on \r, \x1c-\x1e, \x85, \u2028 and \u2029.
        candidates = [" ".join(raw.split()) for raw in text.splitlines()]
    lines = []
    for line in candidates:
        if not line:
            continue
        if any(pattern.search(line) for pattern in patterns):
            continue
        lines.append(line)
    result = "\n".join(lines)
    return result, result.count(" ") + len(lines)

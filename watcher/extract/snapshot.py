"""The raw snapshot kept of a document: its bytes, minus what can never become text.

The bodies of `<script>` and `<style>` elements are most of the bytes of a
modern page (a framework bundle, a JSON copy of the text, inline CSS), change
on every response (tokens, hashes) and never become text: extraction drops
them. A stored HTML snapshot keeps their tags and attributes but not their
bodies. The cut is made on bytes with a regular expression, then proved
harmless: the page's decoding, its title and its whole tree as lxml parses it
(script and style bodies emptied) must be the same before and after, or the
original bytes are kept. Within a check, the tree is proved without parsing
the stripped page when the bodies cut are, one for one, the texts of the
page's script and style elements (`snapshot_of_parsed`). PDFs and text are
kept as they are.

Pure and top-level: safe to run in a worker process.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, AnyStr

import lxml.etree
import lxml.html

from watcher.errors import ExtractionError
from watcher.extract.html import decode_markup, parse
from watcher.models import DocumentKind, ExtractRules

__all__ = [
    "bodies_of",
    "cut_bodies",
    "empty_bodies",
    "snapshot",
    "snapshot_of_parsed",
    "strip_bodies",
]

log = logging.getLogger(__name__)

# An HTML tag name ends at whitespace, '/' or '>' ('<scripts>' is another
# element); an attribute value in quotes may hold '>'. The body ends at the
# first '</script' followed by a name end, as in the HTML tokenizer, even
# inside a JavaScript string.
_BODIES = tuple(
    re.compile(
        rb"(<" + name + rb"(?=[\s/>])(?:[^>\"']|\"[^\"]*\"|'[^']*')*>)"
        # the body, unrolled (no lazy .*? tested at every byte): text up to a '<',
        # then any '<' that does not close the element, and so on
        rb"[^<]*(?:<(?!/" + name + rb"[\s/>])[^<]*)*"
        rb"(</" + name + rb"(?=[\s/>])[^>]*>)",
        re.IGNORECASE | re.DOTALL,
    )
    for name in (rb"script", rb"style")
)
# soupsieve's :-soup-contains() (and its old name :contains()) can match the
# text of a <script>: such rules must see the page whole.
_SEES_SCRIPT_TEXT = re.compile(r":(?:-soup-)?contains(?:-own)?\(", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


def strip_bodies(content: bytes) -> bytes:
    """`content` with the bodies of its <script> and <style> elements removed (no checks)."""
    for pattern in _BODIES:
        content = pattern.sub(rb"\1\2", content)
    return content


def _title(text: str) -> str:
    # the title extraction's sanity checks read from the raw page
    match = _TITLE.search(text)
    return " ".join(match.group(1).split()) if match else ""


def snapshot(
    content: bytes, kind: DocumentKind, rules: ExtractRules, charset: str | None = None
) -> bytes:
    """The bytes to store as the raw snapshot of a document of this `kind`.

    HTML loses its script and style bodies when that provably changes
    nothing extraction sees under `rules`; anything else is returned as is.
    """
    stripped = _cut(content, rules) if kind == "html" else None
    if stripped is None:
        return content
    if not _same_for_extraction(content, stripped, charset):
        log.debug("kept the scripts of a page: stripping them would change what is extracted")
        return content
    return stripped


def empty_bodies(root: Any) -> bytes:
    """The page as `parse` built it, serialised with its script and style
    bodies emptied: what `snapshot_of_parsed` compares the stripped page with.
    Call it before anything changes the tree; it empties the bodies in place
    (harmless to extraction, which drops them)."""
    for element in root.iter("script", "style"):
        element.text = None
    return bytes(lxml.etree.tostring(root))


Bodies = tuple[list[str], list[str]]


def bodies_of(root: Any) -> Bodies:
    """The texts of the page's <script> and of its <style> elements, in document
    order: what `snapshot_of_parsed` matches the cut bodies against. Call it
    before anything changes the tree."""
    return (
        [element.text or "" for element in root.iter("script")],
        [element.text or "" for element in root.iter("style")],
    )


def snapshot_of_parsed(
    content: bytes, markup: str, rules: ExtractRules, charset: str | None, bodies: Bodies | None
) -> bytes:
    """`snapshot` of an HTML page whose decoded tree the caller built already.

    `markup` is `content` decoded with `charset`, `bodies` what `bodies_of`
    found in its tree (None: unknown). The proof is `snapshot`'s, on the decoded
    tree extraction itself parses, and shorter where it can be: when the bodies
    the cut removes are, one for one and in order, the texts of the page's
    script and style elements, the cut removed nothing but their content, and
    the stripped page is that tree with those texts empty (the parser reads an
    element's body as raw text to its end tag, so what follows is read the
    same). Otherwise both pages are parsed and their trees compared.
    """
    if _uses_script_text(rules):
        return content
    stripped, cut_bytes = cut_bodies(content)
    if len(stripped) == len(content):
        return content

    def tree(text: str) -> bytes | None:
        try:
            return empty_bodies(parse(text))
        except ExtractionError:
            return None

    # with the header's charset as during the check, without it as during a re-extraction
    first_cut: str | None = None
    for label in [charset] if charset is None else [charset, None]:
        text = markup if label == charset else decode_markup(content, label, is_html=True)
        proved = again = False
        if first_cut is not None and text == markup:
            cut, again = first_cut, True
        elif label == charset and bodies is not None:
            if _encodes_to(text, content):
                # the cut made on the bytes is the cut on the text (see cut_bodies):
                # no second pass of the patterns over the whole page (0.24 ms)
                cut = stripped.decode("utf-8")
                scripts, styles = cut_bytes
                removed = (
                    [body.decode("utf-8") for body in scripts],
                    [body.decode("utf-8") for body in styles],
                )
            else:
                cut, removed = cut_bodies_text(text)
            proved = removed == bodies
        else:
            cut = strip_bodies_text(text)
        # the stripped bytes may decode otherwise without the header (a <meta charset>
        # moved into the sniffed window): compared even when the text is the same
        if cut != decode_markup(stripped, label, is_html=True):
            return content
        if again:
            continue  # the same text as the first round: its title and trees are compared already
        if _title(text) != _title(cut):
            return content
        first_cut = cut
        if proved:
            continue
        original = tree(text)
        if original is None or original != tree(cut):
            log.debug("kept the scripts of a page: stripping them would change what is extracted")
            return content
    return stripped


def _encodes_to(text: str, content: bytes) -> bool:
    """True when `text` is `content` decoded as UTF-8 (ASCII included)."""
    try:
        return text.encode("utf-8") == content
    except UnicodeEncodeError:  # a lone surrogate: not a decoding of anything
        return False


def _cut(content: bytes, rules: ExtractRules) -> bytes | None:
    """`content` without script and style bodies, or None when there is nothing to
    cut or the rules may read them."""
    if _uses_script_text(rules):
        return None
    stripped = strip_bodies(content)
    return None if len(stripped) == len(content) else stripped


def _uses_script_text(rules: ExtractRules) -> bool:
    selectors = (*rules.select, *rules.remove, *((rules.follow,) if rules.follow else ()))
    return any(_SEES_SCRIPT_TEXT.search(selector) for selector in selectors)


def _same_for_extraction(content: bytes, stripped: bytes, charset: str | None) -> bool:
    """True when extraction cannot tell `stripped` from `content`."""
    # Re-extraction may come with other rules than today's: the whole document
    # (every element, attribute, text and comment) must be the same but for the
    # bodies removed, so that no selector can tell the two apart.
    original = _document(content)
    if original is None or original != _document(stripped):
        return False
    # The fingerprint reads bytes as latin-1; extraction decodes them. Removing
    # bytes must not change the decoding (a script with invalid UTF-8 in a page
    # that is UTF-8 otherwise, a <meta charset> moved into the sniffed window),
    # with the header's charset as during the check, without it as during a
    # re-extraction.
    for label in {charset, None}:
        text = decode_markup(content, label, is_html=True)
        if strip_bodies_text(text) != decode_markup(stripped, label, is_html=True):
            return False
        if _title(text) != _title(strip_bodies_text(text)):
            return False
    return True


def _document(content: bytes) -> bytes | None:
    """The page as lxml parses it, script and style bodies emptied; None when unsure.

    Serialised whole in C: two of these cost a third of two fingerprints per
    rule set, which walk every element in Python.
    """
    if b"\x00" in content[:1024]:
        return None  # UTF-16 or binary
    lower = content.lower()
    end = lower.rfind(b"</html>")
    if end >= 0 and content[end + 7 :].strip():
        return None  # libxml2's tree drops what follows </html>; BeautifulSoup keeps it
    try:
        # latin-1 maps bytes to characters one to one: different bytes stay different
        root = lxml.html.document_fromstring(content.decode("latin-1"))
    except (lxml.etree.LxmlError, ValueError):
        return None
    return empty_bodies(root)


# the same patterns on decoded text (ASCII classes, as on bytes)
_TEXT_BODIES = tuple(
    re.compile(pattern.pattern.decode("ascii"), re.IGNORECASE | re.DOTALL | re.ASCII)
    for pattern in _BODIES
)


def strip_bodies_text(text: str) -> str:
    """`strip_bodies` on decoded text."""
    for pattern in _TEXT_BODIES:
        text = pattern.sub(r"\1\2", text)
    return text


def cut_bodies_text(text: str) -> tuple[str, Bodies]:
    """`strip_bodies_text`, and the script bodies and the style bodies it removed."""
    return _cut_keeping(_TEXT_BODIES, text)


def cut_bodies(content: bytes) -> tuple[bytes, tuple[list[bytes], list[bytes]]]:
    """`strip_bodies`, and the script bodies and the style bodies it removed.

    The patterns are ASCII on bytes and on text alike, so on a page's UTF-8
    bytes they match where they match on its text: a UTF-8 sequence is bytes
    above 0x7F, which only the negated classes match, as they match the one
    character it encodes.
    """
    return _cut_keeping(_BODIES, content)


def _cut_keeping(
    patterns: tuple[re.Pattern[AnyStr], ...], text: AnyStr
) -> tuple[AnyStr, tuple[list[AnyStr], list[AnyStr]]]:
    removed: tuple[list[AnyStr], list[AnyStr]] = ([], [])
    for pattern, found in zip(patterns, removed, strict=True):
        text = pattern.sub(_keeping_tags(found), text)
    return text, removed


def _keeping_tags(found: list[AnyStr]) -> Callable[[re.Match[AnyStr]], AnyStr]:
    """A replacement that keeps a match's tags and adds its body to `found`."""

    def keep_tags(match: re.Match[AnyStr]) -> AnyStr:
        start, end = match.group(1), match.group(2)
        found.append(match.group(0)[len(start) : len(match.group(0)) - len(end)])
        return start + end

    return keep_tags

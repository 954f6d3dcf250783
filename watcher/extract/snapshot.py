"""The raw snapshot kept of a document: its bytes, minus what can never become text.

The bodies of `<script>` and `<style>` elements are most of the bytes of a
modern page (a framework bundle, a JSON copy of the text, inline CSS), change
on every response (tokens, hashes) and never become text: extraction drops
them. A stored HTML snapshot keeps their tags and attributes but not their
bodies. The cut is made on bytes with a regular expression, then proved
harmless: the page's fingerprint (what lxml sees once scripts, styles and
comments are dropped), its decoding and its title must be the same before and
after, or the original bytes are kept. PDFs and text are kept as they are.

Pure and top-level: safe to run in a worker process.
"""

from __future__ import annotations

import logging
import re

from watcher.extract.fingerprint import html_fingerprint
from watcher.extract.html import decode_markup
from watcher.models import DocumentKind, ExtractRules

__all__ = ["snapshot", "strip_bodies"]

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
_WHOLE_PAGE = ExtractRules(follow="a")
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
    if kind != "html" or _uses_script_text(rules):
        return content
    stripped = strip_bodies(content)
    if len(stripped) == len(content):
        return content
    if not _same_for_extraction(content, stripped, rules, charset):
        log.debug("kept the scripts of a page: stripping them would change what is extracted")
        return content
    return stripped


def _uses_script_text(rules: ExtractRules) -> bool:
    selectors = (*rules.select, *rules.remove, *((rules.follow,) if rules.follow else ()))
    return any(_SEES_SCRIPT_TEXT.search(selector) for selector in selectors)


def _same_for_extraction(
    content: bytes, stripped: bytes, rules: ExtractRules, charset: str | None
) -> bool:
    """True when extraction cannot tell `stripped` from `content`."""
    # Re-extraction may come with other rules than today's: the whole page, every
    # link's target included, must be the same, and so must today's view of it.
    for view in {_WHOLE_PAGE, rules}:
        fingerprint = html_fingerprint(content, None, view)
        if fingerprint is None or fingerprint != html_fingerprint(stripped, None, view):
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

"""Scraped text made safe for each place it is shown: Slack, HTML, terminal, email header, log.

Every text a page can influence (lab and title through `follow`, URLs,
headings, changed wording, link texts, a server's error message) is hostile.
One definition says which characters are dangerous wherever text is shown
(`DANGEROUS`):

- the C0 controls U+0000–U+001F, DEL U+007F and the C1 controls
  U+0080–U+009F: they move the cursor, clear the screen, retitle a terminal
  (ESC, and CSI as U+009B) or overwrite a line (carriage return);
- the bidi controls, which reorder what a reader sees (a "Trojan Source"):
  embeddings and overrides U+202A–U+202E, isolates U+2066–U+2069, and the
  invisible direction marks U+200E, U+200F and U+061C;
- the line and paragraph separators U+2028 and U+2029 (a line break to some
  viewers, not to others).

A dangerous character is shown, never obeyed: as `\\xNN` below U+0100 and as
`\\uNNNN` above, the notation Python's `repr` uses. Tab and newline are
dangerous too, but the targets that keep lines apart (terminal, HTML, Slack)
let them through. One function per target, each with its target's rules:

- `terminal`: text for a terminal (`watcher show`, `watcher diff`);
- `html`: HTML text and attribute values (`visible` is the dashboard
  templates' filter: Jinja's autoescape does the markup part);
- `slack`: Slack mrkdwn;
- `header`: an email header value (one line, bounded);
- `one_line`: a field of a message that must stay on one line;
- `log`: a log message (one line, whatever it holds);
- `xml`: text for the Atom feed;
- `markdown`: inline Markdown text (reports and exports meant to be pasted).
- `quote`: scraped text quoted in a message, its backslashes kept single
  (never `repr`, which doubles them).

Pure functions of a string; this module depends on nothing of watcher's.
"""

from __future__ import annotations

import html as _html
import re

#: The dangerous characters, as the body of a regular-expression class.
DANGEROUS = (
    "\\x00-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069"
)

_DANGEROUS = re.compile(f"[{DANGEROUS}]")
# The same, but tab and newline: for targets that keep lines and indentation.
_DANGEROUS_IN_TEXT = re.compile(f"(?![\\t\\n])[{DANGEROUS}]")
# What `str.splitlines` breaks on, plus tab: one-line fields turn these into spaces.
_BREAKS = re.compile(r"[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]+")
# Characters XML 1.0 forbids (after `visible`, only lone surrogates and U+FFFE/U+FFFF remain).
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

#: Header values (an email subject, From, To) are cut to this many characters.
HEADER_MAX = 200


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _str(text: object) -> str:
    return "" if text is None else str(text)


def quote(text: object) -> str:
    """`text` between single quotes, as written, for a message about scraped text.

    Unlike `repr`, a backslash stays one backslash (repr doubles it, so a
    title `A\\B` read `A\\\\B`). Not an escaper: the message is escaped for
    its target where it is shown, which shows control and bidi characters.
    """
    return f"'{_str(text)}'"


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"


def visible(text: object) -> str:
    """Every dangerous character but tab and newline shown as `\\xNN`/`\\uNNNN`.

    The shared core of the multi-line targets; `None` is the empty string.
    """
    return _DANGEROUS_IN_TEXT.sub(_shown, _str(text))


def terminal(text: object) -> str:
    """Text for a terminal: lines and tabs kept, every other dangerous character shown.

    Nothing a page holds can move the cursor, clear or retitle the terminal,
    overwrite a line or reorder it with bidi controls.
    """
    return visible(text)


def html(text: object) -> str:
    """Text for HTML (element content or a quoted attribute value).

    Dangerous characters shown, then `&`, `<`, `>`, `"` and `'` escaped.
    """
    return _html.escape(visible(text), quote=True)


def slack(text: str) -> str:
    """Text for Slack mrkdwn: dangerous characters shown, then `&`, `<`, `>` escaped.

    Slack's rule is to replace `&`, then `<`, then `>`, and nothing else: so
    `<!channel>` or `<https://evil|click>` arrive as text. The only `<…>` in a
    payload are the renderer's own links.
    """
    return visible(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def one_line(text: str, limit: int = 500) -> str:
    """Text as one clean line: breaks become spaces, dangerous characters shown, bounded."""
    text = _DANGEROUS.sub(_shown, _BREAKS.sub(" ", text))
    return clip(" ".join(text.split()), limit)


def header(text: str, limit: int = HEADER_MAX) -> str:
    """An email header value: one line (no CR or LF can start a header of its own), bounded."""
    return one_line(text, limit)


def log(text: object) -> str:
    """A log message: every dangerous character shown, line breaks included.

    A scraped error cannot start a forged log line or colour the log; unlike
    `one_line`, nothing is dropped or folded, so the record stays exact.
    """
    return _DANGEROUS.sub(_shown, _str(text))


def xml(text: object) -> str:
    """Text for XML (the Atom feed): dangerous characters shown, what XML forbids as U+FFFD.

    The markup part is the XML writer's.
    """
    return _XML_INVALID.sub("\ufffd", visible(text))


# CommonMark lets a backslash escape any ASCII punctuation; these are the ones
# that start or end emphasis, links, images, code, autolinks, raw HTML, entity
# references, tables and strikethrough (GFM) wherever they stand in a line.
# Brackets, not parentheses: with `[` and `]` escaped, no link or image can
# open, so "(10.3% of the text)" stays as written.
_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>|~&#])")
# At the start of a line (our text may start one): headings, lists, quotes,
# thematic breaks and setext underlines.
_MARKDOWN_LEADING = re.compile(r"^(\s*)([-+=]|\d+(?=\.))")


def markdown(text: object, limit: int = 2000) -> str:
    """Text as inline Markdown that renders as exactly this text: one line,
    dangerous characters shown, every Markdown-active character backslash-escaped.

    A page title `*[x](javascript:alert(1))*` stays those characters: no
    emphasis, no link. Bounded to `limit` characters before escaping.
    """
    line = one_line(_str(text), limit)
    line = _MARKDOWN_INLINE.sub(r"\\\1", line)
    return _MARKDOWN_LEADING.sub(lambda m: m.group(1) + _md_lead(m.group(2)), line)


def _md_lead(token: str) -> str:
    # "2." (an ordered list) becomes "2\\."; "2)" has its ")" escaped already
    return token + "\\" if token[0].isdigit() else "\\" + token


Marks = tuple[tuple[int, int], ...]


def clip_around(text: str, marks: Marks, limit: int, anchor: int = 0) -> tuple[str, Marks]:
    """`text` cut to about `limit` characters around its marked spans (or `anchor`),
    with '…' where it was cut, and the marks moved to match.

    A long sentence whose change is at its end is shown by its end, not its start.
    """
    if len(text) <= limit:
        return text, marks
    room = max(limit - 2, 1)
    low, high = (marks[0][0], marks[-1][1]) if marks else (anchor, anchor)
    high = min(high, low + room)
    start = max(0, low - (room - (high - low)) // 2)
    end = min(len(text), start + room)
    start = max(0, end - room)
    # whole words at the cuts, unless that would cut into the marks
    if start > 0:
        space = text.find(" ", start, low)
        if 0 <= space < start + 20:
            start = space + 1
    if end < len(text):
        space = text.rfind(" ", high, end)
        if space > end - 20:
            end = space
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    shift = len(prefix) - start
    moved = tuple(
        (max(a, start) + shift, min(b, end) + shift) for a, b in marks if a < end and b > start
    )
    return prefix + text[start:end] + suffix, moved

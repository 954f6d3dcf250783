"""A `Change` shown: in the terminal, as an HTML page, as JSON, and in one line.

Renderers only read a `Change` (detect.py makes it). Scraped text is hostile:
the terminal renderer and the summary escape control characters, the HTML
renderer escapes everything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from watcher import escape
from watcher.models import Change, Hunk, WordOp, page_label

PATH_SEPARATOR = " › "

_RED = "\x1b[31m"
_GREEN = "\x1b[32m"
_BOLD = "\x1b[1m"
_RESET = "\x1b[0m"


def _word_op_lines(words: Sequence[WordOp]) -> list[list[tuple[str, str]]]:
    """Word ops cut at line breaks: per visual line, its (op, text) pieces."""
    lines: list[list[tuple[str, str]]] = [[]]
    for op in words:
        for index, part in enumerate(op.text.split("\n")):
            if index:
                lines.append([])
            if part:
                lines[-1].append((op.op, part))
    return lines


def _location(hunk: Hunk) -> int:
    """1-based line of the hunk: in the new text, or in the old one for a pure deletion."""
    return (hunk.new_start if hunk.new_lines else hunk.old_start) + 1


def render_text(change: Change, *, color: bool = False) -> str:
    """Terminal rendering: per hunk a header, then the changed lines.

    The header is '@@ <heading path> (line N)', N counting from 1 in the new
    text (in the old text for a hunk that only deletes). Removed lines are
    prefixed '- ', added lines '+ '; a hunk with word marks shows '~ ' lines
    with deletions as [-old words-] and insertions as {+new words+}. With
    color=True deletions are red and insertions green, markers kept. Control
    characters in the text are shown escaped, never sent raw.
    """
    red, green, bold, reset = (_RED, _GREEN, _BOLD, _RESET) if color else ("", "", "", "")
    out: list[str] = []
    for hunk in change.hunks:
        path = escape.terminal(PATH_SEPARATOR.join(hunk.heading_path))
        where = f"(line {_location(hunk)}{', ' + page_label(hunk.pages) if hunk.pages else ''})"
        out.append(f"{bold}@@ {path} {where}{reset}" if path else f"{bold}@@ {where}{reset}")
        if hunk.words:
            for pieces in _word_op_lines(hunk.words):
                out.append(
                    "~ " + "".join(_text_piece(op, text, red, green, reset) for op, text in pieces)
                )
            continue
        out.extend(f"{red}- {escape.terminal(line)}{reset}" for line in hunk.old_lines)
        out.extend(f"{green}+ {escape.terminal(line)}{reset}" for line in hunk.new_lines)
    return "\n".join(out)


def _text_piece(op: str, text: str, red: str, green: str, reset: str) -> str:
    if op == "equal":
        return escape.terminal(text)
    core = text.strip()
    if not core:  # a change of spacing alone
        return text if op == "insert" else ""
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    core = escape.terminal(core)
    marked = f"{red}[-{core}-]{reset}" if op == "delete" else f"{green}{{+{core}+}}{reset}"
    return lead + marked + trail


_DEL_STYLE = "background:#ffe0e0;color:#82071e;text-decoration:line-through"
_INS_STYLE = "background:#d8f5dc;color:#0b5a1f;text-decoration:underline"

_CSS = """
body { font: 16px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #1f2328; background: #fff; }
h1 { font-size: 1.4rem; margin-bottom: .25rem; }
h2 { font-size: 1rem; margin: 1.5rem 0 .5rem; padding-bottom: .25rem;
     border-bottom: 1px solid #d0d7de; }
h2 .where { font-weight: normal; color: #59636e; }
.labels, .summary { margin: .25rem 0; color: #59636e; }
.line { margin: .25rem 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.mark { display: inline-block; width: 1.25rem; font-family: monospace; color: #59636e; }
del { background: #ffe0e0; color: #82071e; text-decoration: line-through; }
ins { background: #d8f5dc; color: #0b5a1f; text-decoration: underline; }
del::before, del::after, ins::before, ins::after {
  clip-path: inset(100%); clip: rect(1px, 1px, 1px, 1px); height: 1px; width: 1px;
  overflow: hidden; position: absolute; white-space: nowrap; }
del::before { content: " [deleted: "; } ins::before { content: " [inserted: "; }
del::after, ins::after { content: "] "; }
"""


def render_html(change: Change, *, title: str, old_label: str, new_label: str) -> str:
    """A self-contained HTML page of the change (inline CSS, no scripts, nothing external).

    Each hunk shows its heading path; deletions are <del> (struck through) and
    insertions <ins> (underlined), styled inline as well so the markup
    survives being pasted into an email. Every piece of text is escaped.
    """
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy"'
        " content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape.html(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape.html(title)}</h1>",
        f'<p class="labels">{escape.html(old_label)} → {escape.html(new_label)}</p>',
        f'<p class="summary">{escape.html(summary(change))}</p>',
    ]
    for hunk in change.hunks:
        path = escape.html(PATH_SEPARATOR.join(hunk.heading_path)) or "(before the first heading)"
        parts.append('<section class="hunk">')
        pages = f", {page_label(hunk.pages)}" if hunk.pages else ""
        parts.append(f'<h2>{path} <span class="where">line {_location(hunk)}{pages}</span></h2>')
        if hunk.words:
            for pieces in _word_op_lines(hunk.words):
                body = "".join(_html_piece(op, text) for op, text in pieces)
                parts.append(f'<p class="line changed"><span class="mark">~</span>{body}</p>')
        else:
            for line in hunk.old_lines:
                parts.append(
                    '<p class="line removed"><span class="mark">−</span>'
                    f'<del style="{_DEL_STYLE}">{escape.html(line)}</del></p>'
                )
            for line in hunk.new_lines:
                parts.append(
                    '<p class="line added"><span class="mark">+</span>'
                    f'<ins style="{_INS_STYLE}">{escape.html(line)}</ins></p>'
                )
        parts.append("</section>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _html_piece(op: str, text: str) -> str:
    if op == "equal":
        return escape.html(text)
    if not text.strip():
        return escape.html(text) if op == "insert" else ""
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    tag, style = ("del", _DEL_STYLE) if op == "delete" else ("ins", _INS_STYLE)
    return f'{escape.html(lead)}<{tag} style="{style}">{escape.html(text.strip())}</{tag}>{escape.html(trail)}'


def change_to_json(change: Change) -> dict[str, object]:
    """JSON-ready dict: stats (with share_changed), headings, and hunks with their word ops."""
    stats = change.stats
    return {
        "stats": {
            "words_added": stats.words_added,
            "words_removed": stats.words_removed,
            "old_words": stats.old_words,
            "new_words": stats.new_words,
            "share_changed": stats.share_changed,
        },
        "headings": list(change.headings),
        "hunks": [
            {
                "heading_path": list(hunk.heading_path),
                "old_start": hunk.old_start,
                "new_start": hunk.new_start,
                "old_lines": list(hunk.old_lines),
                "new_lines": list(hunk.new_lines),
                "words": [{"op": op.op, "text": op.text} for op in hunk.words],
                "pages": list(hunk.pages) or None,
            }
            for hunk in change.hunks
        ],
    }


def summary(change: Change) -> str:
    """One line: '+120/−45 words (3.1% of the text) in 2. Security; 4. Governance and 2 more sections'.

    Sections are named by their own heading, or by their whole path when two
    changed sections share a heading (two 'Overview's).
    """
    stats = change.stats
    share = stats.share_changed * 100
    share_text = "<0.1%" if 0 < share < 0.05 else f"{share:.1f}%"
    line = f"+{stats.words_added}/−{stats.words_removed} words ({share_text} of the text)"

    paths: dict[tuple[str, ...], None] = {}
    for hunk in change.hunks:
        if hunk.heading_path:
            paths.setdefault(hunk.heading_path, None)
    if not paths:
        return line
    leaves = Counter(path[-1] for path in paths)
    names = [
        escape.terminal(path[-1] if leaves[path[-1]] == 1 else PATH_SEPARATOR.join(path))
        for path in paths
    ]
    shown = "; ".join(names[:2])
    rest = len(names) - 2
    if rest > 0:
        shown += f" and {rest} more section{'s' if rest > 1 else ''}"
    return f"{line} in {shown}"

"""An `Alert` → the message each channel sends: plain text, Slack Block Kit, email.

Pure functions. Every piece of text that comes from a scraped page (lab and
title may too, through `follow`; url, headings, changed wording, link texts,
errors) is untrusted:

- control characters are made visible (`\\x1b`) or, in one-line fields,
  turned into spaces, so nothing can reorder, colour or split a line;
- Slack: escaped for mrkdwn by replacing `&`, `<`, `>` (and nothing else),
  so `<!channel>` or `<https://evil|click>` arrive as text; the only `<…>`
  in a payload are our own `<url|label>` links, made only from URLs that
  `_safe_url` accepts; changed wording sits in code blocks (no formatting)
  with backticks neutralised so it cannot close the block;
- email: everything HTML-escaped, links only to safe http(s) URLs, header
  values single-line and bounded.

Sizes are bounded whatever the change: Slack within its block limits
(`SLACK_*`), the email text and HTML parts within ~100 KB; the attached
HTML file carries the whole diff.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any
from urllib.parse import urlsplit

from watcher import clock, escape
from watcher.detect import render_html as render_diff_html
from watcher.detect import summary as change_summary
from watcher.escape import clip as _clip
from watcher.escape import html as _e
from watcher.escape import one_line
from watcher.escape import slack as mrkdwn
from watcher.models import SIGNAL_LABELS, Change, Hunk, Signal, page_label
from watcher.notify.alert import Alert

#: Slack's own limits are 3,000 characters per section text and 50 blocks;
#: messages much over ~13k characters in all are cut, so we stay below that.
SLACK_SECTION_MAX = 3000
SLACK_BLOCKS_MAX = 50
SLACK_TOTAL_MAX = 11_500
SLACK_TEXT_MAX = 3000

#: Header values (the subject) are cut to this many characters.
SUBJECT_MAX = escape.HEADER_MAX

PATH_SEPARATOR = " › "

_UNSAFE_IN_URL = re.compile(f"[\\s<>|\"'`\\\\{escape.DANGEROUS}]")
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

_DEL_STYLE = "background:#ffe0e0;color:#82071e;text-decoration:line-through"
_INS_STYLE = "background:#d8f5dc;color:#0b5a1f;text-decoration:underline"
_BODY_STYLE = "font-family:system-ui,-apple-system,Segoe UI,sans-serif;font-size:15px;line-height:1.5;color:#1f2328"
_LINE_STYLE = "margin:2px 0;white-space:pre-wrap;word-wrap:break-word;font-family:Menlo,Consolas,monospace;font-size:13px"
_PATH_STYLE = "margin:12px 0 4px;font-weight:bold;color:#59636e"
_MUTED_STYLE = "color:#59636e"


# ---------------------------------------------------------------------------
# bounds: how much of a change each format shows


@dataclass(frozen=True)
class _Bounds:
    hunks: int  # changed sections shown at most
    chars: int  # characters of changed wording in all
    line: int  # characters per shown line
    headings: int  # heading paths listed
    documents: int  # new documents listed
    items: int  # digest entries listed


_SLACK = _Bounds(hunks=5, chars=5000, line=600, headings=8, documents=10, items=60)
_EMAIL = _Bounds(hunks=25, chars=15_000, line=1500, headings=25, documents=50, items=200)

#: Characters of a digest list or a change excerpt in one email part (the
#: rest of the message is small and bounded): parts stay under ~100 KB.
_PART_BUDGET = 80_000

#: Characters of unchanged text kept on either side of a word-level edit.
_CONTEXT = 80


# ---------------------------------------------------------------------------
# text hygiene


SIGNALS_SHOWN = 5  # signals listed in an alert; the rest are counted


#: Characters of each evidence quote shown in an alert, cut around its changed words.
QUOTE_SHOWN = 160

_MARKERS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    # (deleted, inserted) as (before, after) the changed words
    "text": (("[-", "-]"), ("{+", "+}")),
    "slack": (("~", "~"), ("*", "*")),
    "html": ((f'<del style="{_DEL_STYLE}">', "</del>"), (f'<ins style="{_INS_STYLE}">', "</ins>")),
}


def _escaper(style: str) -> Callable[[str], str]:
    return {"slack": mrkdwn, "html": _e}.get(style, str)


def quote(text: str, marks: Sequence[tuple[int, int]], side: str, style: str = "text") -> str:
    """An evidence quote on one line, cut around its changed words, which are marked:
    [-deleted-] {+inserted+} as text, ~struck~ *bold* for Slack, <del>/<ins> in HTML.

    Every piece of the text is escaped for `style` (text is left for its caller).
    """
    text, marks = escape.clip_around(text, tuple(marks), QUOTE_SHOWN)
    esc = _escaper(style)
    before, after = _MARKERS[style][0 if side == "old" else 1]
    out: list[str] = []
    at = 0
    for start, end in [*marks, (len(text), len(text))]:
        out.append(esc(_flat(text[at:start])))
        piece = _flat(text[start:end])
        core = piece.strip()
        if core:
            lead = piece[: len(piece) - len(piece.lstrip())]
            trail = piece[len(piece.rstrip()) :]
            out.append(f"{lead}{before}{esc(core)}{after}{trail}")
        else:
            out.append(esc(piece))
        at = end
    return "".join(out)


_SPACES = re.compile(r"\s+")


def _flat(text: str) -> str:
    """One line: any run of spaces and breaks one space, dangerous characters shown."""
    return escape.log(_SPACES.sub(" ", text))


def signal_line(signal: Signal, style: str = "text") -> str:
    """One line for a signal: what, where, and its evidence with the changed words
    marked, bounded. Escaped for `style` ('slack', 'html'); 'text' is left unescaped."""
    esc = _escaper(style)
    line = esc(SIGNAL_LABELS.get(signal.kind, signal.kind.replace("_", " ")))
    if signal.section:
        line += f" in {esc(one_line(signal.section, 80))}"
    if signal.page is not None:
        line += f"{',' if signal.section else ''} {page_label((signal.page,))}"
    if signal.detail:
        line += f": {esc(one_line(signal.detail, 100))}"
    # five such lines and the title stay under Slack's 3,000 characters per section
    if signal.old or signal.new:
        old = f"“{quote(signal.old, signal.old_marks, 'old', style)}”" if signal.old else "(none)"
        new = f"“{quote(signal.new, signal.new_marks, 'new', style)}”" if signal.new else "(none)"
        line += f" — {old} → {new}"
    return line


def _signal_lines(alert: Alert, style: str = "text") -> list[str]:
    lines = [signal_line(signal, style) for signal in alert.signals[:SIGNALS_SHOWN]]
    # the alert carries the first signals; the count says how many the change raised
    total = max(alert.signal_count, len(alert.signals))
    if total > len(lines):
        lines.append(f"and {total - len(lines)} more signals")
    return lines


def _visible(text: str) -> str:
    """Tabs to spaces and other controls made visible, keeping spacing (diff lines)."""
    return escape.log(text.replace("\t", " "))


def _safe_url(url: str) -> str | None:
    """The URL when it is an absolute http(s) URL we can put in a link, else None."""
    if not url or len(url) > 2000 or _UNSAFE_IN_URL.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def _document(alert: Alert, limit: int = 160) -> str:
    """'Lab — Title' (or whichever of them, or the source id, is known), one line."""
    lab, title = one_line(alert.lab, limit), one_line(alert.title, limit)
    name = f"{lab} — {title}" if lab and title else lab or title or one_line(alert.source_id)
    return _clip(name or "(unnamed source)", limit)


def _versions(alert: Alert) -> str:
    return f"v{alert.old_version} → v{alert.new_version}"


def _when(moment: str | None) -> str:
    """A stored ISO time as '2026-01-02 10:00 UTC'; other text as it is (one line)."""
    if not moment:
        return ""
    try:
        return clock.parse_iso(moment).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return one_line(moment, 60)


def _version_line(alert: Alert) -> str:
    old = f"v{alert.old_version}"
    new = f"v{alert.new_version}"
    if alert.old_captured_at:
        old += f" ({_when(alert.old_captured_at)})"
    if alert.new_captured_at:
        new += f" ({_when(alert.new_captured_at)})"
    return f"{old} → {new}"


def _event_line(alert: Alert) -> str:
    task = f"Review task #{alert.task_id}" if alert.task_id is not None else "A review task"
    if alert.event == "extended":
        line = (
            f"{task} was already open; it now spans v{alert.from_version} → v{alert.new_version}."
        )
        return line if alert.from_version is not None else f"{task} was already open; extended."
    return f"{task} opened."


def _change_line(alert: Alert) -> str:
    if alert.change is not None:
        return one_line(change_summary(alert.change), 1000)
    return one_line(alert.summary, 1000)


def _headings(change: Change | None, limit: int) -> tuple[list[str], int]:
    names = [one_line(path, 200) for path in change.headings] if change else []
    return names[:limit], max(0, len(names) - limit)


def _more(count: int, noun: str) -> str:
    return f"and {count} more {noun}{'s' if count != 1 else ''}"


# ---------------------------------------------------------------------------
# excerpt of the changed wording, shared by every format


@dataclass(frozen=True)
class _Line:
    """One shown line: '-' removed, '+' added, '~' edited in place (word pieces)."""

    mark: str
    pieces: tuple[tuple[str, str], ...]  # (op, text), op in equal / delete / insert

    @property
    def size(self) -> int:
        return sum(len(text) for _, text in self.pieces) + 2


@dataclass(frozen=True)
class _Section:
    path: str
    lines: tuple[_Line, ...]
    cut: bool  # some lines of the hunk are not shown
    pages: str = ""  # "p. 7", "pp. 7–8" for a PDF; "" otherwise

    def header(self, empty: str = "") -> str:
        """'@@ Policy › 3. Thresholds (p. 7)': the path (or `empty`) and the pages, unescaped."""
        where = f"({self.pages})" if self.pages else ""
        return " ".join(part for part in (self.path or empty, where) if part)


def _excerpt(change: Change, bounds: _Bounds) -> tuple[list[_Section], int]:
    """The first hunks within `bounds`, and how many hunks are left out."""
    sections: list[_Section] = []
    used = 0
    for hunk in change.hunks:
        if len(sections) == bounds.hunks or used >= bounds.chars:
            break
        lines = list(_hunk_lines(hunk, bounds.line))
        shown: list[_Line] = []
        for line in lines:
            if shown and used + line.size > bounds.chars:
                break
            shown.append(line)
            used += line.size
        path = one_line(PATH_SEPARATOR.join(hunk.heading_path), 300)
        sections.append(
            _Section(path, tuple(shown), len(shown) < len(lines), page_label(hunk.pages))
        )
    return sections, len(change.hunks) - len(sections)


def _hunk_lines(hunk: Hunk, limit: int) -> Iterator[_Line]:
    if hunk.words:
        pieces: list[tuple[str, str]] = []
        for op in hunk.words:
            for index, part in enumerate(op.text.split("\n")):
                if index:
                    if any(kind != "equal" for kind, _ in pieces):
                        yield _Line("~", _shorten(pieces, limit))
                    pieces = []
                if part:
                    pieces.append((op.op, _visible(part)))
        if any(kind != "equal" for kind, _ in pieces):
            yield _Line("~", _shorten(pieces, limit))
        return
    for text in hunk.old_lines:
        if text.strip():
            yield _Line("-", (("delete", _clip(_visible(text), limit)),))
    for text in hunk.new_lines:
        if text.strip():
            yield _Line("+", (("insert", _clip(_visible(text), limit)),))


def _shorten(pieces: list[tuple[str, str]], limit: int) -> tuple[tuple[str, str], ...]:
    """A word-level line cut down to its edits with some context, within `limit` characters."""
    out: list[tuple[str, str]] = []
    last = len(pieces) - 1
    for index, (op, text) in enumerate(pieces):
        if op == "equal" and len(text) > 2 * _CONTEXT + 3:
            if index == 0:
                text = "…" + text[-_CONTEXT:]
            elif index == last:
                text = text[:_CONTEXT] + "…"
            else:
                text = text[:_CONTEXT] + " … " + text[-_CONTEXT:]
        elif op != "equal":
            text = _clip(text, limit // 2)
        out.append((op, text))
    used = 0
    for index, (op, text) in enumerate(out):
        if used + len(text) > limit:
            return (*out[:index], (op, _clip(text, max(2, limit - used))))
        used += len(text)
    return tuple(out)


def _marked(line: _Line) -> str:
    """A line in the text form of the terminal diff: '~ kept [-removed-]{+added+} kept'."""
    if line.mark != "~":
        return f"{line.mark} " + "".join(text for _, text in line.pieces)
    out = []
    for op, text in line.pieces:
        if op == "equal" or not text.strip():
            out.append(text if op != "delete" else "")
            continue
        lead = text[: len(text) - len(text.lstrip())]
        trail = text[len(text.rstrip()) :]
        core = text.strip()
        out.append(lead + (f"[-{core}-]" if op == "delete" else f"{{+{core}+}}") + trail)
    return "~ " + "".join(out)


# ---------------------------------------------------------------------------
# subject


def subject(alert: Alert) -> str:
    """The email subject (and the headline of every format): one line, bounded."""
    if alert.kind == "change":
        head, tail = "[watcher] ", f" changed ({_versions(alert)})"
    elif alert.kind == "reminder":
        task = f" #{alert.task_id}" if alert.task_id is not None else ""
        head, tail = f"[watcher] Reminder: review task{task} still open for ", ""
    elif alert.kind == "failing":
        head, tail = "[watcher] Source failing: ", ""
    elif alert.kind == "recovered":
        head, tail = "[watcher] Source recovered: ", ""
    elif alert.kind == "digest":
        count = len(alert.items)
        return f"[watcher] Digest: {count} change{'s' if count != 1 else ''}"
    elif alert.kind == "batch":
        return f"[watcher] {len(alert.items)} alerts at once"
    else:
        return _clip(
            f"[watcher] Test message from channel {one_line(alert.title, 100)}", SUBJECT_MAX
        )
    return head + _document(alert, SUBJECT_MAX - len(head) - len(tail)) + tail


# ---------------------------------------------------------------------------
# plain text


def render_plain(alert: Alert) -> str:
    """The alert as plain text (the email's text part); bounded in size."""
    return "\n".join(_plain_lines(alert)).rstrip() + "\n"


def _plain_lines(alert: Alert) -> Iterator[str]:
    bounds = _EMAIL
    if alert.kind in ("digest", "batch"):
        count = len(alert.items)
        yield _list_headline(alert)
        yield ""
        budget = _PART_BUDGET
        shown = 0
        for item in alert.items[: bounds.items]:
            entry = f"- {_list_line(alert, item)}"
            link = _list_link(item)
            if link:
                entry += f"\n  {link[0]}"
            budget -= len(entry) + 1
            if budget < 0:
                break
            yield entry
            shown += 1
        if count > shown:
            yield _more(count - shown, "change")
        return
    if alert.kind == "test":
        yield f"watcher test message from channel {one_line(alert.title, 100)}."
        if alert.summary:
            yield one_line(alert.summary, 1000)
        yield "If you can read this, the channel works."
        return

    if alert.severity:
        yield f"Severity: {one_line(alert.severity, 40)}"
    if alert.criteria:  # what a rater asks first: which grades it touches
        yield one_line(alert.criteria, 1000)
    for line in _signal_lines(alert):
        yield f"- {line}"
    yield subject(alert).removeprefix("[watcher] ")
    if alert.kind == "change":
        yield _event_line(alert)
    yield ""
    yield f"Source: {one_line(alert.url, 1000)}"

    if alert.kind == "change":
        if alert.supersedes:
            yield f"Supersedes: {one_line(alert.supersedes, 2000)}"
        yield f"Versions: {_version_line(alert)}"
        yield f"Change: {_change_line(alert)}"
        names, more = _headings(alert.change, bounds.headings)
        if names:
            yield "Sections: " + "; ".join(names) + (f" {_more(more, 'section')}" if more else "")
        if alert.new_documents:
            yield ""
            yield "New documents:"
            for doc in alert.new_documents[: bounds.documents]:
                yield f"- {one_line(doc.text, 200) or '(no link text)'}: {one_line(doc.url, 1000)}"
            if len(alert.new_documents) > bounds.documents:
                yield _more(len(alert.new_documents) - bounds.documents, "document")
        if alert.change is not None and alert.change.hunks:
            sections, left = _excerpt(alert.change, bounds)
            yield ""
            yield "What changed:"
            for section in sections:
                yield f"@@ {section.header()}".rstrip()
                yield from (_marked(line) for line in section.lines)
                if section.cut:
                    yield "  …"
            if left:
                yield _more(left, "change")
    elif alert.kind == "reminder":
        if alert.task_id is not None:
            yield f"Task: #{alert.task_id}"
        if alert.from_version is not None and alert.new_version is not None:
            yield f"Versions: v{alert.from_version} → v{alert.new_version}"
        if alert.opened_at:
            yield f"Open since: {_when(alert.opened_at)}"
        yield f"Assignee: {one_line(alert.assignee, 100) if alert.assignee else 'nobody'}"
        if alert.summary:
            yield f"Summary: {one_line(alert.summary, 1000)}"
    elif alert.kind == "failing":
        if alert.failures is not None:
            yield f"Failed checks in a row: {alert.failures}"
        if alert.error:
            yield f"Last error: {one_line(alert.error, 1000)}"
    elif alert.kind == "recovered":
        yield "The source is checked successfully again."

    yield ""
    yield from _link_lines(alert)


def _link_lines(alert: Alert) -> Iterator[str]:
    link = one_line(alert.link, 1000)
    if link and alert.link != alert.url:
        yield f"Full diff: {link}" if alert.kind == "change" else f"Details: {link}"


def _digest_line(item: Alert) -> str:
    line = f"{_document(item)} {_versions(item)}"
    detail = _change_line(item)
    return _clip(f"{line}, {detail}" if detail else line, 300)


def _list_headline(alert: Alert) -> str:
    count = len(alert.items)
    if alert.kind == "batch":
        return f"watcher: {count} alerts at once, listed in one message"
    return f"watcher digest: {count} change{'s' if count != 1 else ''} below the alert threshold"


_BATCH_WORDS = {
    "change": "changed",
    "reminder": "review still open",
    "failing": "source failing",
    "recovered": "source recovered",
}


def _batch_line(item: Alert) -> str:
    """One alert of a summary: severity, lab — document, what happened (unescaped)."""
    severity = f"[{one_line(item.severity, 20)}] " if item.severity else ""
    what = _BATCH_WORDS.get(item.kind, item.kind)
    if item.kind == "change":
        what += f" ({_versions(item)})"
    elif item.kind == "reminder" and item.task_id is not None:
        what += f" (task #{item.task_id})"
    return _clip(f"{severity}{_document(item, 120)}: {what}", 200)


def _list_line(alert: Alert, item: Alert) -> str:
    return _batch_line(item) if alert.kind == "batch" else _digest_line(item)


def _list_link(item: Alert) -> tuple[str, str] | None:
    """Where an item of a list points, and the label, if the URL is safe and not huge."""
    link = item.link or item.url
    if not _safe_url(link) or len(link) > _LIST_LINK_MAX:
        return None
    return link, "diff" if item.link and item.link != item.url else "source"


#: A list entry's link longer than this is left out (the entry stays): it keeps
#: every entry of a summary within Slack's limits.
_LIST_LINK_MAX = 400


def fits_slack(alert: Alert) -> bool:
    """Whether Slack shows the whole message: no part left out to fit its limits."""
    if alert.kind in ("digest", "batch") and len(alert.items) > _SLACK.items:
        return False
    blocks = list(_slack_blocks(alert))
    return (
        len(blocks) <= SLACK_BLOCKS_MAX - 1
        and _slack_size(block for block, _ in blocks) <= SLACK_TOTAL_MAX
    )


def fits_email(alert: Alert) -> bool:
    """Whether the email lists every item of a digest or summary."""
    if alert.kind not in ("digest", "batch"):
        return True
    if len(alert.items) > _EMAIL.items:
        return False
    size = sum(
        len(_list_line(alert, item)) + len(item.link or item.url) + 8 for item in alert.items
    )
    return size <= _PART_BUDGET


# ---------------------------------------------------------------------------
# Slack


def _slack_link(url: str, label: str) -> str:
    """Our own link `<url|label>` when url is safe; else the URL as escaped text."""
    safe = _safe_url(url)
    if safe is None:
        return mrkdwn(one_line(url, 300))
    # A "|" in the label would not break out, but keep the syntax unambiguous.
    label = one_line(label, 150).replace("|", "¦")
    return f"<{mrkdwn(safe)}|{mrkdwn(label)}>"


def _code(text: str) -> str:
    # Slack has no escape for backticks: a modifier grave looks alike and cannot close the block.
    return mrkdwn(text.replace("`", "ˋ"))


def _fit(text: str, limit: int = SLACK_SECTION_MAX) -> str:
    """Escaped mrkdwn cut to `limit` without splitting an entity or one of our links."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp, lt = cut.rfind("&"), cut.rfind("<")
    if amp > cut.rfind(";"):
        cut = cut[:amp]
    if lt > cut.rfind(">"):
        cut = cut[:lt]
    return cut + "…"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _fit(text)}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _fit(text)}]}


def render_slack(alert: Alert) -> dict[str, Any]:
    """A Block Kit payload `{"text": fallback, "blocks": [...]}` within Slack's limits."""
    if alert.kind == "report":  # a scheduled report has a renderer of its own
        from watcher.notify.report import render_report_slack

        return render_report_slack(alert)
    kept = _within_limits(list(_slack_blocks(alert)))
    headline = render_plain(alert).split("\n\n", 1)[0]
    return {"text": _fit(mrkdwn(headline), SLACK_TEXT_MAX), "blocks": kept}


def _within_limits(blocks: list[tuple[dict[str, Any], bool]]) -> list[dict[str, Any]]:
    """Drop optional blocks from the end until the message fits Slack's limits."""
    dropped = 0
    while len(blocks) > SLACK_BLOCKS_MAX - 1 or _slack_size(b for b, _ in blocks) > SLACK_TOTAL_MAX:
        index = max((i for i, (_, optional) in enumerate(blocks) if optional), default=None)
        if index is None:
            break
        del blocks[index]
        dropped += 1
    kept = [block for block, _ in blocks]
    if dropped:
        kept.append(
            _context(
                f"({dropped} more part{'s' if dropped != 1 else ''} left out to fit Slack's limits)"
            )
        )
    return kept


def _slack_size(blocks: Iterator[dict[str, Any]]) -> int:
    return sum(len(text) for block in blocks for text in _block_texts(block))


def _block_texts(block: dict[str, Any]) -> Iterator[str]:
    if "text" in block:
        yield block["text"]["text"]
    for element in block.get("elements", ()):
        yield element["text"]


def _slack_blocks(alert: Alert) -> Iterator[tuple[dict[str, Any], bool]]:
    bounds = _SLACK
    if alert.kind == "test":
        yield (
            _section(
                f"watcher test message from channel *{mrkdwn(one_line(alert.title, 100))}*."
                + (f"\n{mrkdwn(one_line(alert.summary, 1000))}" if alert.summary else "")
            ),
            False,
        )
        return
    if alert.kind in ("digest", "batch"):
        count = len(alert.items)
        head, _, tail = _list_headline(alert).partition(": ")
        yield _section(f"*{head}:* {tail}"), False
        lines = []
        for item in alert.items[: bounds.items]:
            line = "• " + mrkdwn(_clip(_list_line(alert, item), 400))
            link = _list_link(item)
            if link:
                line += " " + _slack_link(*link)
            lines.append(line)
        for chunk in _chunks(lines, SLACK_SECTION_MAX):
            yield _section(chunk), True
        if count > bounds.items:
            yield _context(_more(count - bounds.items, "change")), False
        return

    head = f"*Severity: {mrkdwn(one_line(alert.severity, 40))}*\n" if alert.severity else ""
    if alert.criteria:
        head += f"{mrkdwn(one_line(alert.criteria, 1000))}\n"
    if alert.signals:
        # a section of their own: escaping can lengthen them, and _fit cuts the end
        signals = "".join(f"• {line}\n" for line in _signal_lines(alert, "slack"))
        yield _section(head + signals), False
        head = ""
    document = f"*{mrkdwn(_document(alert, 300))}*"
    if alert.kind == "change":
        yield (
            _section(f"{head}{document} changed ({_versions(alert)})\n{_event_line(alert)}"),
            False,
        )
        facts = [
            f"*Source:* {_slack_link(alert.url, one_line(alert.url, 150))}",
            *(
                [f"*Supersedes:* {mrkdwn(one_line(alert.supersedes, 600))}"]
                if alert.supersedes
                else []
            ),
            f"*Versions:* {mrkdwn(_version_line(alert))}",
            f"*Change:* {mrkdwn(_change_line(alert))}",
        ]
        names, more = _headings(alert.change, bounds.headings)
        if names:
            facts.append(
                "*Sections:* "
                + mrkdwn("; ".join(names))
                + (f" {_more(more, 'section')}" if more else "")
            )
        yield _section("\n".join(facts)), False
        if alert.new_documents:
            docs = [
                "• " + _slack_link(doc.url, one_line(doc.text, 150) or doc.url)
                for doc in alert.new_documents[: bounds.documents]
            ]
            if len(alert.new_documents) > bounds.documents:
                docs.append(_more(len(alert.new_documents) - bounds.documents, "document"))
            yield _section("*New documents:*\n" + "\n".join(docs)), True
        if alert.change is not None and alert.change.hunks:
            sections, left = _excerpt(alert.change, bounds)
            yield _section("*What changed:*"), True
            for section in sections:
                lines = [f"@@ {section.header()}".rstrip()]
                lines += [_marked(line) for line in section.lines]
                if section.cut:
                    lines.append("  …")
                body = _fit(_code("\n".join(lines)), SLACK_SECTION_MAX - 8)
                yield _section(f"```\n{body}\n```"), True
            if left:
                yield _context(_more(left, "change") + " in the full diff"), False
    else:
        if alert.kind == "reminder":
            task = f"Review task #{alert.task_id}" if alert.task_id is not None else "A review task"
            lines = [f"{head}*Reminder:* {task} for {document} is still open."]
            if alert.from_version is not None and alert.new_version is not None:
                lines.append(f"*Versions:* v{alert.from_version} → v{alert.new_version}")
            if alert.opened_at:
                lines.append(f"*Open since:* {mrkdwn(_when(alert.opened_at))}")
            assignee = mrkdwn(one_line(alert.assignee, 100)) if alert.assignee else "nobody"
            lines.append(f"*Assignee:* {assignee}")
            if alert.summary:
                lines.append(f"*Summary:* {mrkdwn(one_line(alert.summary, 1000))}")
        elif alert.kind == "failing":
            failures = f" ({alert.failures} failed checks in a row)" if alert.failures else ""
            lines = [f"{head}*Source failing:* {document}{failures}"]
            if alert.error:
                lines.append(f"*Last error:* {mrkdwn(one_line(alert.error, 1000))}")
        else:
            lines = [f"{head}*Source recovered:* {document} is checked successfully again."]
        lines.append(f"*Source:* {_slack_link(alert.url, one_line(alert.url, 150))}")
        yield _section("\n".join(lines)), False

    if alert.link and alert.link != alert.url:
        label = "Full diff" if alert.kind == "change" else "Details"
        yield _section(_slack_link(alert.link, label)), False


def _chunks(lines: Sequence[str], limit: int) -> Iterator[str]:
    """Lines joined into texts of at most `limit` characters (a longer line is cut)."""
    chunk: list[str] = []
    size = 0
    for line in lines:
        line = _fit(line, limit)
        if chunk and size + len(line) + 1 > limit:
            yield "\n".join(chunk)
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        yield "\n".join(chunk)


# ---------------------------------------------------------------------------
# email


def _html_link(url: str, label: str) -> str:
    safe = _safe_url(url)
    if safe is None:
        return _e(one_line(url, 1000))
    return f'<a href="{_e(safe)}">{_e(one_line(label, 300))}</a>'


def render_email_html(alert: Alert) -> str:
    """The alert as an HTML document with inline styles only (the email's HTML part)."""
    out = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8">',
        f"<title>{_e(subject(alert))}</title></head>",
        f'<body style="{_BODY_STYLE}">',
    ]
    out += _html_body(alert)
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _html_body(alert: Alert) -> Iterator[str]:
    bounds = _EMAIL
    if alert.kind == "test":
        yield f"<p>watcher test message from channel <strong>{_e(one_line(alert.title, 100))}</strong>.</p>"
        if alert.summary:
            yield f"<p>{_e(one_line(alert.summary, 1000))}</p>"
        yield "<p>If you can read this, the channel works.</p>"
        return
    if alert.kind in ("digest", "batch"):
        count = len(alert.items)
        yield f"<h2>{_e(_list_headline(alert))}</h2>"
        yield "<ul>"
        budget = _PART_BUDGET
        shown = 0
        for item in alert.items[: bounds.items]:
            link = _list_link(item)
            suffix = f" ({_html_link(*link)})" if link else ""
            entry = f"<li>{_e(_list_line(alert, item))}{suffix}</li>"
            budget -= len(entry)
            if budget < 0:
                break
            yield entry
            shown += 1
        yield "</ul>"
        if count > shown:
            yield f'<p style="{_MUTED_STYLE}">{_more(count - shown, "change")}</p>'
        return

    if alert.severity:
        yield f"<p><strong>Severity: {_e(one_line(alert.severity, 40))}</strong></p>"
    if alert.criteria:
        yield f"<p><strong>{_e(one_line(alert.criteria, 1000))}</strong></p>"
    if alert.signals:
        lines = _signal_lines(alert, "html")
        yield "<ul>" + "".join(f"<li>{line}</li>" for line in lines) + "</ul>"
    yield f"<h2>{_e(subject(alert).removeprefix('[watcher] '))}</h2>"
    rows: list[tuple[str, str]] = [("Source", _html_link(alert.url, alert.url))]
    if alert.kind == "change":
        yield f"<p>{_e(_event_line(alert))}</p>"
        if alert.supersedes:
            rows.append(("Supersedes", _e(one_line(alert.supersedes, 2000))))
        rows.append(("Versions", _e(_version_line(alert))))
        rows.append(("Change", _e(_change_line(alert))))
        names, more = _headings(alert.change, bounds.headings)
        if names:
            rows.append(
                ("Sections", _e("; ".join(names)) + (f" {_more(more, 'section')}" if more else ""))
            )
    elif alert.kind == "reminder":
        if alert.task_id is not None:
            rows.append(("Task", f"#{alert.task_id}"))
        if alert.from_version is not None and alert.new_version is not None:
            rows.append(("Versions", f"v{alert.from_version} → v{alert.new_version}"))
        if alert.opened_at:
            rows.append(("Open since", _e(_when(alert.opened_at))))
        rows.append(("Assignee", _e(one_line(alert.assignee, 100)) if alert.assignee else "nobody"))
        if alert.summary:
            rows.append(("Summary", _e(one_line(alert.summary, 1000))))
    elif alert.kind == "failing":
        if alert.failures is not None:
            rows.append(("Failed checks in a row", str(alert.failures)))
        if alert.error:
            rows.append(("Last error", _e(one_line(alert.error, 1000))))
    else:
        yield "<p>The source is checked successfully again.</p>"
    yield "<table>"
    for name, value in rows:
        yield f'<tr><th style="text-align:left;vertical-align:top;padding-right:12px">{name}</th><td>{value}</td></tr>'
    yield "</table>"

    if alert.kind == "change" and alert.new_documents:
        yield "<h3>New documents</h3>"
        yield "<ul>"
        for doc in alert.new_documents[: bounds.documents]:
            yield f"<li>{_html_link(doc.url, one_line(doc.text, 200) or doc.url)}</li>"
        yield "</ul>"
        if len(alert.new_documents) > bounds.documents:
            yield f"<p>{_more(len(alert.new_documents) - bounds.documents, 'document')}</p>"
    if alert.kind == "change" and alert.change is not None and alert.change.hunks:
        sections, left = _excerpt(alert.change, bounds)
        yield "<h3>What changed</h3>"
        budget = _PART_BUDGET
        for index, section in enumerate(sections):
            # Escaping and inline styles can make a line of text several times longer.
            markup = [
                f'<p style="{_PATH_STYLE}">{_e(section.header("(before the first heading)"))}</p>'
            ]
            markup += [f'<p style="{_LINE_STYLE}">{_html_line(line)}</p>' for line in section.lines]
            if section.cut:
                markup.append(f'<p style="{_LINE_STYLE}">…</p>')
            for row in markup:
                budget -= len(row) + 1
                if budget < 0:
                    yield f'<p style="{_LINE_STYLE}">…</p>'
                    break
                yield row
            if budget < 0:
                left += len(sections) - index - 1
                break
        if left:
            yield f'<p style="{_MUTED_STYLE}">{_more(left, "change")}: the attached file has the whole diff.</p>'

    if alert.link and alert.link != alert.url:
        yield f"<p>{_html_link(alert.link, 'Full diff' if alert.kind == 'change' else 'Details')}</p>"


def _html_line(line: _Line) -> str:
    mark = {"-": "−", "+": "+", "~": "~"}[line.mark]
    out = [f'<span style="{_MUTED_STYLE}">{mark} </span>']
    for op, text in line.pieces:
        if op == "equal" or not text.strip():
            out.append(_e(text) if op != "delete" else "")
        else:
            # Spaces outside the marks, so only words are struck or underlined.
            lead = text[: len(text) - len(text.lstrip())]
            trail = text[len(text.rstrip()) :]
            tag, style = ("del", _DEL_STYLE) if op == "delete" else ("ins", _INS_STYLE)
            out.append(f'{lead}<{tag} style="{style}">{_e(text.strip())}</{tag}>{trail}')
    return "".join(out)


def attachment_name(alert: Alert) -> str:
    """'diff-<source>-v<old>-v<new>.html', safe as a file name."""
    source = _FILENAME_UNSAFE.sub("-", alert.source_id).strip("-.")[:80] or "source"
    return f"diff-{source}-v{alert.old_version}-v{alert.new_version}.html"


def render_email(alert: Alert, *, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """The alert as an email: text and HTML alternatives, plus the whole diff attached for a change."""
    if alert.kind == "report":  # a scheduled report has a renderer of its own
        from watcher.notify.report import render_report_email

        return render_report_email(alert, sender=sender, recipients=recipients)
    message = EmailMessage()
    message["Subject"] = escape.header(subject(alert))
    message["From"] = escape.header(sender, 300)
    message["To"] = ", ".join(escape.header(address, 300) for address in recipients)
    message["Date"] = format_datetime(clock.now())
    domain = parseaddr(sender)[1].rpartition("@")[2]
    message["Message-ID"] = make_msgid(domain=domain if _safe_domain(domain) else "watcher.invalid")
    message.set_content(render_plain(alert))
    message.add_alternative(render_email_html(alert), subtype="html")
    if alert.kind == "change" and alert.change is not None:
        page = render_diff_html(
            alert.change,
            title=_document(alert, 300),
            old_label=f"v{alert.old_version}"
            + (f" ({_when(alert.old_captured_at)})" if alert.old_captured_at else ""),
            new_label=f"v{alert.new_version}"
            + (f" ({_when(alert.new_captured_at)})" if alert.new_captured_at else ""),
        )
        message.add_attachment(page, subtype="html", filename=attachment_name(alert))
    return message


def _safe_domain(domain: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9.-]{1,200}", domain))

"""An `Alert` → what every format shares: the headline, the subject, plain text,
signal lines and the excerpt of the changed wording. `slack_render.py` and
`email_render.py` build their formats on these; `webhook_render.py` the JSON.

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
from urllib.parse import urlsplit

from watcher import clock, escape
from watcher.detect import summary as change_summary
from watcher.escape import clip as _clip
from watcher.escape import html as _e
from watcher.escape import one_line
from watcher.escape import slack as mrkdwn
from watcher.models import SIGNAL_LABELS, Change, Hunk, Signal, page_label
from watcher.notify.alert import TASK_NOTICES, Alert
from watcher.review import SYSTEM_ACTOR
from watcher.wording import plural

#: Header values (the subject) are cut to this many characters.
SUBJECT_MAX = escape.HEADER_MAX

PATH_SEPARATOR = " › "

_UNSAFE_IN_URL = re.compile(f"[\\s<>|\"'`\\\\{escape.DANGEROUS}]")
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

_DEL_STYLE = "background:#ffe0e0;color:#82071e;text-decoration:line-through"
_INS_STYLE = "background:#d8f5dc;color:#0b5a1f;text-decoration:underline"


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

#: Characters of a rater's note shown in a message (the dashboard has the whole note).
NOTE_SHOWN = 500

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
    if style == "slack" and not slack_marks_fit(text, marks):
        # Slack has no escape for ~ or *: marks that could pair with the
        # text's own become the text form, which nothing can break.
        before, after = _MARKERS["text"][0 if side == "old" else 1]
    else:
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

#: Characters that Slack reads as formatting marks (or a code span).
_SLACK_MARKUP = re.compile("[~*_`]")


def slack_marks_fit(text: str, spans: Sequence[tuple[int, int]]) -> bool:
    """Whether Slack's ~strike~ and *bold* can mark `spans` of `text` as meant.

    They can when the text holds no ~, *, _ or backtick, so no mark of ours can pair
    with one of the text's, and every span (spaces aside) starts and ends at a
    word's edge: Slack formats only whole words, so `com~mit~` would show its
    tildes.
    """
    if _SLACK_MARKUP.search(text):
        return False
    for start, end in spans:
        piece = text[start:end]
        start += len(piece) - len(piece.lstrip())
        end -= len(piece) - len(piece.rstrip())
        if start >= end:
            continue
        if (start > 0 and text[start - 1].isalnum()) or (end < len(text) and text[end].isalnum()):
            return False
    return True


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


def top_signal(alert: Alert) -> str:
    """The label of the alert's most material signal ("commitment weakened"), or ""."""
    if not alert.signals:
        return ""
    kind = alert.signals[0].kind
    return one_line(SIGNAL_LABELS.get(kind, kind.replace("_", " ")), 60)


def _what(alert: Alert) -> str:
    """What happened, in a few words (unescaped): the top signal, else the event."""
    if alert.kind == "change":
        return top_signal(alert) or f"changed ({_versions(alert)})"
    if alert.kind == "reminder":
        task = f" #{alert.task_id}" if alert.task_id is not None else ""
        return f"review task{task} still open"
    if alert.kind == "failing":
        count = f" ({alert.failures} failed checks in a row)" if alert.failures else ""
        return f"source failing{count}"
    if alert.kind in TASK_NOTICES:
        return task_action(alert)
    return "source recovered"


def task_action(alert: Alert) -> str:
    """What a rater did to the task, in a few words (unescaped): 'assigned to you by
    dana', 'assigned to you as its owner' (the owner rule), 'closed by dana'."""
    actor = one_line(alert.actor or "", 100) or "someone"
    if alert.kind != "assigned":
        return f"{alert.kind} by {actor}"
    if alert.actor == SYSTEM_ACTOR:
        return "assigned to you as its owner"
    return f"assigned to you by {actor}"


def task_detail(alert: Alert, limit: int = NOTE_SHOWN) -> str:
    """What follows the action (unescaped, one line): the note of a close or a
    dismissal, the task's summary for an assignment; "" for a reopening."""
    if alert.kind == "assigned":
        return one_line(alert.summary or "", limit)
    return one_line(alert.note or "", limit)


def headline(alert: Alert, limit: int = 300) -> str:
    """The phone-first line: 'Lab — Document · severity: what happened', bounded.

    The lab and document come first (a notification shows the start of a line,
    and two labs' frameworks have near-identical names); the document is cut
    before the tail is. Unescaped: each format escapes it.
    """
    if alert.kind in ("digest", "batch"):
        return _clip(_list_headline(alert), limit)
    if alert.kind in TASK_NOTICES:
        # the action and its note carry the news: the document gets at most half
        document = _document(alert, max(20, min(160, limit // 2)))
        detail = task_detail(alert)
        tail = " · " + task_action(alert) + (f": {detail}" if detail else "")
        return document + _clip(tail, limit - len(document))
    if alert.kind not in ("change", "reminder", "failing", "recovered"):
        return _clip(subject(alert).removeprefix("[watcher] "), limit)
    severity = one_line(alert.severity, 20) if alert.severity and alert.kind == "change" else ""
    tail = " · " + (f"{severity}: " if severity else "") + _what(alert)
    tail = _clip(tail, limit // 2)
    return _document(alert, limit - len(tail)) + tail


def subject(alert: Alert) -> str:
    """The email subject: '[watcher] major — Lab — Document: what happened', one line, bounded.

    A change without a severity (no analysis) keeps '[watcher] Lab — Document
    changed (v1 → v2)'.
    """
    if alert.kind == "change" and not alert.severity:
        head, tail = "[watcher] ", f" changed ({_versions(alert)})"
    elif alert.kind in ("change", "reminder", "failing", "recovered"):
        tag = (
            one_line(alert.severity, 20)
            if alert.kind == "change" and alert.severity
            else alert.kind
        )
        what = {
            "failing": f"{alert.failures} failed checks in a row"
            if alert.failures
            else "checks fail",
            "recovered": "checked successfully again",
        }.get(alert.kind) or _what(alert)
        head, tail = f"[watcher] {tag} — ", _clip(f": {what}", 80)
    elif alert.kind in TASK_NOTICES:
        head, tail = "[watcher] ", _clip(f" · {task_action(alert)}", 80)
    elif alert.kind == "digest":
        count = len(alert.items)
        return f"[watcher] Digest: {count} change{'s' if count != 1 else ''}"
    elif alert.kind == "batch":
        return f"[watcher] {plural(len(alert.items), 'alert')} at once"
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

    # The title first: which lab and document, then what the change means.
    yield headline(alert, 1000)
    if alert.kind == "change":
        yield _event_line(alert)
    if alert.severity:
        yield f"Severity: {one_line(alert.severity, 40)}"
    if alert.criteria:  # what a rater asks first: which grades it touches
        yield one_line(alert.criteria, 1000)
    for line in _signal_lines(alert):
        yield f"- {line}"
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
    elif alert.kind in TASK_NOTICES:
        yield from (f"{name}: {value}" for name, value in task_facts(alert))
    elif alert.kind == "failing":
        if alert.failures is not None:
            yield f"Failed checks in a row: {alert.failures}"
        if alert.error:
            yield f"Last error: {one_line(alert.error, 1000)}"
    elif alert.kind == "recovered":
        yield "The source is checked successfully again."

    yield ""
    yield from _link_lines(alert)


def task_facts(alert: Alert) -> list[tuple[str, str]]:
    """A task notice's facts as (name, value) pairs, unescaped, each one bounded line."""
    facts = []
    if alert.task_id is not None:
        facts.append(("Task", f"#{alert.task_id}"))
    if alert.note:
        facts.append(("Note", one_line(alert.note, NOTE_SHOWN)))
    if alert.kind != "assigned":
        facts.append(("Assignee", one_line(alert.assignee, 100) if alert.assignee else "nobody"))
    if alert.summary:
        facts.append(("Summary", one_line(alert.summary, 1000)))
    return facts


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
        return f"watcher: {plural(count, 'alert')} at once, listed in one message"
    return f"watcher digest: {count} change{'s' if count != 1 else ''} below the alert threshold"


_BATCH_WORDS = {
    "change": "changed",
    "reminder": "review still open",
    "failing": "source failing",
    "recovered": "source recovered",
}
_NOTICE_LINE = 120  # characters of an action and its note in a summary's line


def _batch_line(item: Alert) -> str:
    """One alert of a summary: severity, lab — document, what happened (unescaped)."""
    severity = f"[{one_line(item.severity, 20)}] " if item.severity else ""
    what = _BATCH_WORDS.get(item.kind, item.kind)
    if item.kind == "change":
        what += f" ({_versions(item)})"
    elif item.kind == "reminder" and item.task_id is not None:
        what += f" (task #{item.task_id})"
    elif item.kind in TASK_NOTICES:
        detail = task_detail(item, _NOTICE_LINE)
        what = _clip(task_action(item) + (f": {detail}" if detail else ""), _NOTICE_LINE)
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

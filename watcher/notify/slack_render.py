"""An `Alert` as a Slack Block Kit payload (incoming webhooks), phone first.

What a phone's notification shows is the fallback `text`: it starts with the
lab and the document ("Anthropic — Responsible Scaling Policy · major:
commitment weakened"), so two look-alike framework names cannot be confused.

Scraped text is escaped for mrkdwn by replacing `&`, `<`, `>` (and nothing
else), so `<!channel>` or `<https://evil|click>` arrive as text; the only
`<…>` in a payload are our own `<url|label>` links, made only from URLs that
`_safe_url` accepts, and the mentions a channel's config names
(`mention_on_major`), added to major changes only. Changed wording is marked
with Slack's own ~strike~ and *bold* when the text holds no character that
could pair with those marks (`slack_marks_fit`), else shown in a code block
(no formatting) with backticks neutralised so it cannot close the block.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from watcher.escape import clip as _clip
from watcher.escape import one_line
from watcher.escape import slack as mrkdwn
from watcher.notify.alert import TASK_NOTICES, Alert
from watcher.notify.render import (
    _SLACK,
    _change_line,
    _document,
    _event_line,
    _excerpt,
    _headings,
    _Line,
    _list_headline,
    _list_line,
    _list_link,
    _marked,
    _more,
    _safe_url,
    _signal_lines,
    _version_line,
    _versions,
    _when,
    headline,
    slack_marks_fit,
    task_action,
    task_facts,
)

#: Slack's own limits are 3,000 characters per section text and 50 blocks;
#: messages much over ~13k characters in all are cut, so we stay below that.
SLACK_SECTION_MAX = 3000
SLACK_BLOCKS_MAX = 50
SLACK_TOTAL_MAX = 11_500
SLACK_TEXT_MAX = 3000

#: Slack's header blocks are plain text of at most 150 characters.
SLACK_HEADER_MAX = 150


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


def render_slack(alert: Alert, mentions: Sequence[str] = ()) -> dict[str, Any]:
    """A Block Kit payload `{"text": fallback, "blocks": [...]}` within Slack's limits.

    `mentions` (a channel's `mention_on_major`, validated by the config) are
    added to the fallback text and the first section when the alert is a major
    change, or a summary listing one; never otherwise.
    """
    if alert.kind == "report":  # a scheduled report has a renderer of its own
        from watcher.notify.report import render_report_slack

        return render_report_slack(alert)
    tags = " ".join(mentions) if mentions and _is_major(alert) else ""
    kept = _within_limits(list(_slack_blocks(alert, tags)))
    text = mrkdwn(headline(alert, SLACK_TEXT_MAX - len(tags) - 1))
    return {"text": _fit(f"{text} {tags}" if tags else text, SLACK_TEXT_MAX), "blocks": kept}


def _is_major(alert: Alert) -> bool:
    if alert.kind == "batch":
        return any(_is_major(item) for item in alert.items)
    return alert.kind == "change" and alert.severity == "major"


def _header(alert: Alert) -> dict[str, Any]:
    """The header block: plain text (never parsed for mentions or links), at most 150 characters.

    Escaped all the same (`&`, `<`, `>`), so no payload holds a raw `<` of a page's."""
    limit = SLACK_HEADER_MAX
    text = mrkdwn(headline(alert, limit))
    while len(text) > SLACK_HEADER_MAX and limit > 20:  # escaping lengthened it
        limit -= len(text) - SLACK_HEADER_MAX
        text = mrkdwn(headline(alert, limit))
    text = _fit(text, SLACK_HEADER_MAX)
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": False}}


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


def _slack_blocks(alert: Alert, tags: str = "") -> Iterator[tuple[dict[str, Any], bool]]:
    bounds = _SLACK
    yield _header(alert), False
    tail = f"\n{tags}" if tags else ""
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
        head, _, rest = _list_headline(alert).partition(": ")
        yield _section(f"*{head}:* {rest}{tail}"), False
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

    document = f"*{mrkdwn(_document(alert, 300))}*"
    if alert.kind == "change":
        # The first section says, after the header, how serious and what kind of change.
        severity = f"*{mrkdwn(one_line(alert.severity, 40))}*" if alert.severity else "Changed"
        lines = [f"{severity} · {document} {_versions(alert)} · {mrkdwn(_event_line(alert))}"]
        if alert.criteria:
            lines.append(mrkdwn(one_line(alert.criteria, 1000)))
        # escaping can lengthen the signal lines, and _fit cuts the end: the mentions go first
        first = "\n".join(lines) + tail
        if alert.signals:
            first += "\n" + "".join(f"• {line}\n" for line in _signal_lines(alert, "slack"))
        yield _section(first.rstrip("\n")), False
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
                marked = [_slack_line(line) for line in section.lines]
                where = mrkdwn(section.header()) or "(before the first heading)"
                if all(line is not None for line in marked):
                    # Slack's own marks read best on a phone: no code block to scroll.
                    shown = [f"§ {where}", *(line for line in marked if line is not None)]
                    if section.cut:
                        shown.append("…")
                    yield _section("\n".join(shown)), True
                    continue
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
            lines = [f"*Reminder:* {task} for {document} is still open."]
            if alert.from_version is not None and alert.new_version is not None:
                lines.append(f"*Versions:* v{alert.from_version} → v{alert.new_version}")
            if alert.opened_at:
                lines.append(f"*Open since:* {mrkdwn(_when(alert.opened_at))}")
            assignee = mrkdwn(one_line(alert.assignee, 100)) if alert.assignee else "nobody"
            lines.append(f"*Assignee:* {assignee}")
            if alert.summary:
                lines.append(f"*Summary:* {mrkdwn(one_line(alert.summary, 1000))}")
        elif alert.kind in TASK_NOTICES:
            # the actor and the note are typed by people: escaped like scraped text
            lines = [f"{document} · {mrkdwn(task_action(alert))}"]
            lines += [f"*{name}:* {mrkdwn(value)}" for name, value in task_facts(alert)]
        elif alert.kind == "failing":
            failures = f" ({alert.failures} failed checks in a row)" if alert.failures else ""
            lines = [f"*Source failing:* {document}{failures}"]
            if alert.error:
                lines.append(f"*Last error:* {mrkdwn(one_line(alert.error, 1000))}")
        else:
            lines = [f"*Source recovered:* {document} is checked successfully again."]
        lines.append(f"*Source:* {_slack_link(alert.url, one_line(alert.url, 150))}")
        yield _section("\n".join(lines)), False

    if alert.link and alert.link != alert.url:
        label = "Full diff" if alert.kind == "change" else "Details"
        yield _section(_slack_link(alert.link, label)), False


# "±" for an edited line: a leading "~" could be read as the start of a strike.
_LINE_MARKS = {"-": "−", "+": "+", "~": "±"}


def _slack_line(line: _Line) -> str | None:
    """A changed line with Slack's ~strike~ and *bold*, or None when the marks
    could pair with the text's own characters or split a word (`slack_marks_fit`)."""
    text = ""
    spans: list[tuple[int, int, str]] = []
    for op, piece in line.pieces:
        if op != "equal" and piece.strip():
            if spans and spans[-1][1] == len(text) and not text[-1:].isspace():
                text += " "  # '~old~ *new*': two marks need a space between them
            spans.append((len(text), len(text) + len(piece), op))
        text += piece
    if not slack_marks_fit(text, [(start, end) for start, end, _ in spans]):
        return None
    out: list[str] = []
    at = 0
    for start, end, op in spans:
        piece = text[start:end]
        core = piece.strip()
        lead = piece[: len(piece) - len(piece.lstrip())]
        trail = piece[len(piece.rstrip()) :]
        mark = "~" if op == "delete" else "*"
        out.append(mrkdwn(text[at:start]) + f"{lead}{mark}{mrkdwn(core)}{mark}{trail}")
        at = end
    out.append(mrkdwn(text[at:]))
    # A mark of our own leads the line, so no line starts with scraped text.
    return f"{_LINE_MARKS[line.mark]} " + "".join(out)


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


def fits_slack(alert: Alert) -> bool:
    """Whether Slack shows the whole message: no part left out to fit its limits."""
    if alert.kind in ("digest", "batch") and len(alert.items) > _SLACK.items:
        return False
    blocks = list(_slack_blocks(alert))
    return (
        len(blocks) <= SLACK_BLOCKS_MAX - 1
        and _slack_size(block for block, _ in blocks) <= SLACK_TOTAL_MAX
    )

"""The scheduled report (`report = "weekly Mon 08:00"` on a channel) rendered per channel.

Kept apart from render.py's alerts: a report is the data of `watcher report`
(`Alert.report`), shown concisely in Slack (counts and the top items, with
links) and whole by email (the Markdown report as the text part, the HTML
report as the HTML part). Every scraped string is escaped for its format.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from email.message import EmailMessage
from typing import Any

from watcher import escape
from watcher.config import SEVERITIES
from watcher.notify.alert import Alert
from watcher.notify.render import _safe_url
from watcher.notify.slack_render import _section
from watcher.wording import plural

#: Items of each list a Slack report names; the rest are counted.
SLACK_TOP = 5


def report_title(data: Mapping[str, Any]) -> str:
    from watcher.report import title_line

    return title_line(data)


def report_subject(alert: Alert) -> str:
    data = alert.report or {}
    return escape.header(
        f"[watcher] Report: {plural(data.get('changes', 0), 'change')}, "
        f"{plural(len(data.get('open_tasks', [])), 'open task')}, "
        f"{plural(len(data.get('failing_sources', [])), 'failing source')}"
    )


def _link(url: str | None, label: str) -> str:
    """Our own Slack link `<url|label>` for a safe http(s) URL; else the label as text."""
    text = escape.slack(escape.one_line(label, 150)).replace("|", "¦")
    safe = _safe_url(url or "")
    return f"<{escape.slack(safe)}|{text}>" if safe else text


def _rank(item: Mapping[str, Any]) -> int:
    severity = item.get("severity")
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def _changes(data: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Every change with its lab, most severe first, newest first among equals."""
    items = [(lab["lab"], item) for lab in data.get("labs", []) for item in lab["changes"]]
    items.sort(key=lambda pair: pair[1]["captured_at"], reverse=True)
    items.sort(key=lambda pair: _rank(pair[1]), reverse=True)
    return items


def _more(total: int, shown: int, noun: str) -> list[str]:
    left = total - shown
    return [f"… and {plural(left, 'more ' + noun)}"] if left > 0 else []


def render_report_slack(alert: Alert) -> dict[str, Any]:
    """A concise Block Kit report: the counts, then the top changes, tasks and failures."""
    data = alert.report or {}
    blocks = list(_slack_blocks(data, alert.link))
    text = escape.slack(escape.one_line(report_title(data), 300))
    return {"text": text, "blocks": blocks}


def _slack_blocks(data: Mapping[str, Any], link: str) -> Iterator[dict[str, Any]]:
    for lines in _parts(data, _SLACK_MARKUP):
        yield _section("\n".join(lines))
    if link:
        yield _section(_link(link, "Dashboard"))


def render_report_text(alert: Alert) -> str:
    """The concise report as plain text (Apprise's services): the Slack report's parts."""
    data = alert.report or {}
    parts = ["\n".join(lines) for lines in _parts(data, _TEXT_MARKUP)]
    if alert.link:
        parts.append(f"Dashboard: {escape.one_line(alert.link, 300)}")
    return "\n\n".join(parts) + "\n"


class _Markup:
    """How the concise report marks text up: Slack's mrkdwn, or plain text."""

    def __init__(
        self,
        text: Callable[[str], str],
        bold: str,
        italic: str,
        link: Callable[[str | None, str], str],
    ) -> None:
        self.text, self.bold, self.italic, self.link = text, bold, italic, link


_SLACK_MARKUP = _Markup(escape.slack, "*", "_", _link)
_TEXT_MARKUP = _Markup(lambda text: text, "", "", lambda url, label: "")


def _parts(data: Mapping[str, Any], m: _Markup) -> Iterator[list[str]]:
    """The concise report's parts: the counts, the top changes, tasks and failures."""
    e, b = m.text, m.bold
    changes = _changes(data)
    tasks: Sequence[Mapping[str, Any]] = data.get("open_tasks", [])
    failing: Sequence[Mapping[str, Any]] = data.get("failing_sources", [])

    def more(total: int, noun: str) -> list[str]:
        return [f"{m.italic}{line}{m.italic}" for line in _more(total, SLACK_TOP, noun)]

    yield [
        f"{b}{e(report_title(data))}{b}",
        f"{plural(len(changes), 'change')}, {plural(len(tasks), 'open task')}, "
        f"{plural(len(failing), 'failing source')}",
    ]
    if changes:
        lines = [f"{b}Changes{b}"]
        for lab, item in changes[:SLACK_TOP]:
            line = (
                f"• {b}{e(escape.one_line(lab + ' — ' + item['title'], 200))}{b} "
                f"v{item['version']}: {e(item['severity'] or 'no severity')}"
            )
            if item["signals"]:
                line += f" — {e(escape.one_line(item['signals'][0]['label'], 80))}"
            if item.get("diff_url") and (diff := m.link(item["diff_url"], "diff")):
                line += " " + diff
            lines.append(line)
        yield lines + more(len(changes), "change")
    if tasks:
        oldest = sorted(tasks, key=lambda task: task["opened_at"])
        lines = [f"{b}Open tasks{b} (oldest first)"]
        for task in oldest[:SLACK_TOP]:
            who = e(escape.one_line(task["assignee"], 60)) if task["assignee"] else "nobody"
            label = m.link(task.get("url"), f"#{task['id']}") or f"#{task['id']}"
            lines.append(
                f"• {label} {e(escape.one_line(task['lab'] + ' — ' + task['title'], 200))}: "
                f"{plural(task['age_days'], 'day')}, {who}"
            )
        yield lines + more(len(tasks), "task")
    if failing:
        lines = [f"{b}Failing sources{b}"]
        for row in failing[:SLACK_TOP]:
            lines.append(
                f"• {e(escape.one_line(row['lab'] + ' — ' + row['title'], 200))}: "
                f"{e(escape.one_line(row['last_error'] or '-', 200))}"
            )
        yield lines + more(len(failing), "source")


def render_report_email(alert: Alert, *, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """The whole report by email: Markdown as the text part, the HTML page as the HTML part."""
    from watcher.notify.email_render import envelope
    from watcher.report import render_html, render_md

    data = dict(alert.report or {})
    message = envelope(alert, report_subject(alert), sender=sender, recipients=recipients)
    message.set_content(render_md(data))
    message.add_alternative(render_html(data), subtype="html")
    return message

"""An `Alert` as an email: text and HTML alternatives, the whole diff attached.

Everything scraped is HTML-escaped, links go only to safe http(s) URLs, and
header values are single-line and bounded (the email library encodes what is
not ASCII). Messages about one review task thread together: each has a stable
`Message-ID` (`<watcher.task-7.notification-12@example.org>`, the domain the
From address's), and `In-Reply-To`/`References` name the task's first message
on the channel.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from watcher import clock, escape
from watcher.detect import render_html as render_diff_html
from watcher.escape import html as _e
from watcher.escape import one_line
from watcher.notify.alert import TASK_NOTICES, Alert
from watcher.notify.render import (
    _DEL_STYLE,
    _EMAIL,
    _FILENAME_UNSAFE,
    _INS_STYLE,
    _PART_BUDGET,
    _change_line,
    _document,
    _event_line,
    _excerpt,
    _headings,
    _Line,
    _list_headline,
    _list_line,
    _list_link,
    _more,
    _safe_url,
    _signal_lines,
    _version_line,
    _when,
    render_plain,
    subject,
    task_facts,
)

_BODY_STYLE = "font-family:system-ui,-apple-system,Segoe UI,sans-serif;font-size:15px;line-height:1.5;color:#1f2328"
_LINE_STYLE = "margin:2px 0;white-space:pre-wrap;word-wrap:break-word;font-family:Menlo,Consolas,monospace;font-size:13px"
_PATH_STYLE = "margin:12px 0 4px;font-weight:bold;color:#59636e"
_MUTED_STYLE = "color:#59636e"


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

    # The title first: which lab and document, then what the change means.
    yield f"<h2>{_e(subject(alert).removeprefix('[watcher] '))}</h2>"
    if alert.kind == "change":
        yield f"<p>{_e(_event_line(alert))}</p>"
    if alert.severity:
        yield f"<p><strong>Severity: {_e(one_line(alert.severity, 40))}</strong></p>"
    if alert.criteria:
        yield f"<p><strong>{_e(one_line(alert.criteria, 1000))}</strong></p>"
    if alert.signals:
        lines = _signal_lines(alert, "html")
        yield "<ul>" + "".join(f"<li>{line}</li>" for line in lines) + "</ul>"
    rows: list[tuple[str, str]] = [("Source", _html_link(alert.url, alert.url))]
    if alert.kind == "change":
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
    elif alert.kind in TASK_NOTICES:
        rows += [(name, _e(value)) for name, value in task_facts(alert)]
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
    message = envelope(alert, escape.header(subject(alert)), sender=sender, recipients=recipients)
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


def envelope(
    alert: Alert, subject_line: str, *, sender: str, recipients: Sequence[str]
) -> EmailMessage:
    """A message's headers: subject, from, to, date, a stable Message-ID, and the
    task's thread (In-Reply-To, References) when it is a later message of it."""
    message = EmailMessage()
    message["Subject"] = subject_line
    message["From"] = escape.header(sender, 300)
    message["To"] = ", ".join(escape.header(address, 300) for address in recipients)
    message["Date"] = format_datetime(clock.now())
    domain = parseaddr(sender)[1].rpartition("@")[2]
    domain = domain if _safe_domain(domain) else "watcher.invalid"
    message["Message-ID"] = message_id(alert, domain)
    root = thread_root(alert, domain)
    if root is not None:
        message["In-Reply-To"] = root
        message["References"] = root
    return message


def message_id(alert: Alert, domain: str) -> str:
    """A stable Message-ID: the same alert has the same one on every attempt.

    `<watcher.task-7.notification-12@domain>` for an alert about a task,
    `<watcher.notification-12@domain>` for another queued alert, a fresh one
    for what the outbox did not queue (a test, a summary of several alerts).
    """
    if alert.notification_id is None:
        return make_msgid(domain=domain)
    task = f"task-{alert.task_id}." if alert.task_id is not None else ""
    return f"<watcher.{task}notification-{alert.notification_id}@{domain}>"


def thread_root(alert: Alert, domain: str) -> str | None:
    """The Message-ID of the task's first message on the channel, when this is a later one."""
    first = alert.first_notification_id
    if alert.task_id is None or first is None or first == alert.notification_id:
        return None
    return f"<watcher.task-{alert.task_id}.notification-{first}@{domain}>"


def _safe_domain(domain: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9.-]{1,200}", domain))

"""The report: what changed over a period, what waits for review, what is failing.

`build(config, store, since=…, until=…)` gathers, as JSON-ready data (the
fields `docs/commands.md` lists):

- changes by lab: every version recorded in the window (after a source's
  first, or a superseding file's first), with its severity and top signals
  with their quotes, analysed as `watcher diff` analyses it, and a link to the
  dashboard's diff when `dashboard_url` is set;
- open tasks, with their age and assignee;
- failing sources, with their last error and since when they fail.

`render_md` and `render_html` write it for people; every scraped string is
escaped for its format (`escape.markdown`, `escape.html`). The scheduled
report of a channel (`report = "weekly Mon 08:00"`) is the same data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from watcher import clock, detect, escape, queries
from watcher.config import Config
from watcher.export import compare_versions, md_link, when
from watcher.models import SIGNAL_LABELS, page_label, signal_to_json
from watcher.store import Store
from watcher.wording import plural

#: Signals listed per change in a report; the rest are counted.
TOP_SIGNALS = 3
#: Changes a report analyses at most (the newest); older ones are counted.
MAX_CHANGES = 200
QUOTE_MAX = 300

# --- the data ---------------------------------------------------------------------


def build(config: Config, store: Store, *, since: datetime, until: datetime) -> dict[str, Any]:
    """The report's data for versions captured in [since, until)."""
    base = config.watcher.dashboard_url
    rows = store.changes(since=clock.iso(since), until=clock.iso(until), limit=MAX_CHANGES + 1)
    left_out = max(0, len(rows) - MAX_CHANGES)
    labs: dict[str, list[dict[str, Any]]] = {}
    for row in reversed(rows[:MAX_CHANGES]):  # oldest first within each lab
        new = store.version(row["source_id"], row["number"])
        previous = queries.previous_in_lineage(store, new)
        if previous is None:
            continue
        _, _, change = queries.compare_any(
            store, (previous.source_id, previous.number), (new.source_id, new.number)
        )
        comparison = compare_versions(config, store, previous, new, change)
        analysis = comparison.analysis
        signals = list(analysis.signals) if analysis else []
        source = comparison.new_source
        labs.setdefault(source["lab"], []).append(
            {
                "source": new.source_id,
                "title": source["title"],
                "url": new.url or source["url"],
                "version": new.number,
                "previous": {"source": previous.source_id, "number": previous.number},
                "captured_at": new.captured_at,
                "severity": analysis.severity if analysis else None,
                "summary": detect.summary(change) if change else "same text",
                "signals": [
                    {
                        "label": SIGNAL_LABELS.get(s.kind, s.kind.replace("_", " ")),
                        **signal_to_json(s),
                    }
                    for s in signals[:TOP_SIGNALS]
                ],
                "signal_count": len(signals) + (analysis.truncated if analysis else 0),
                "task": row["task_id"],
                "diff_url": _diff_url(base, previous.source_id, previous.number, new),
            }
        )
    now = clock.now()
    sources = {row["id"]: row for row in store.sources(include_inactive=True)}
    tasks = []
    for task in store.tasks("open"):
        source = sources.get(task["source_id"], {})
        opened = clock.parse_iso(task["opened_at"])
        tasks.append(
            {
                "id": task["id"],
                "source": task["source_id"],
                "lab": source.get("lab", ""),
                "title": source.get("title", ""),
                "severity": task["severity"],
                "summary": task["summary"],
                "opened_at": task["opened_at"],
                "age_days": round((now - opened).total_seconds() / 86_400, 1),
                "assignee": task["assignee"],
                "url": f"{base}/tasks/{task['id']}" if base else None,
            }
        )
    failing = []
    for row in store.sources():
        if row["status"] != "failing":
            continue
        recent = store.checks(row["id"], limit=max(int(row["consecutive_failures"]), 1))
        failed = [check for check in recent if check["outcome"] == "failed"]
        failing.append(
            {
                "source": row["id"],
                "lab": row["lab"],
                "title": row["title"],
                "url": row["url"],
                "consecutive_failures": row["consecutive_failures"],
                "last_error": row["last_error"],
                "failing_since": failed[-1]["started_at"] if failed else None,
                "last_checked": row["last_checked"],
            }
        )
    return {
        "generated_at": clock.iso(now),
        "since": clock.iso(since),
        "until": clock.iso(until),
        "dashboard_url": base or None,
        "labs": [{"lab": lab, "changes": labs[lab]} for lab in sorted(labs)],
        "changes": sum(len(items) for items in labs.values()),
        "changes_left_out": left_out,
        "open_tasks": tasks,
        "failing_sources": failing,
    }


def _diff_url(base: str, old_source: str, old_number: int, new: Any) -> str | None:
    if not base:
        return None
    if old_source == new.source_id:
        return (
            f"{base}/sources/{quote(new.source_id, safe='')}/diff?old={old_number}&new={new.number}"
        )
    old_ref = quote(f"{old_source}@{old_number}", safe="@")
    new_ref = quote(f"{new.source_id}@{new.number}", safe="@")
    return f"{base}/compare?old={old_ref}&new={new_ref}"


# --- Markdown -----------------------------------------------------------------------


def _age(days: float) -> str:
    if days < 1:
        return f"{round(days * 24)} h"
    return f"{days:g} day{'s' if days != 1 else ''}"


def _md_signal(signal: dict[str, Any]) -> str:
    where = []
    if signal["section"]:
        where.append(f"§ {escape.markdown(signal['section'], 120)}")
    if signal["page"] is not None:
        where.append(page_label((signal["page"],)))
    line = f"**{escape.markdown(signal['label'])}**" + (f" ({', '.join(where)})" if where else "")
    if signal["old"] or signal["new"]:
        old = f"“{escape.markdown(signal['old'], QUOTE_MAX)}”" if signal["old"] else "(none)"
        new = f"“{escape.markdown(signal['new'], QUOTE_MAX)}”" if signal["new"] else "(none)"
        line += f": {old} → {new}"
    return line


def title_line(data: Mapping[str, Any]) -> str:
    return f"watcher report, {when(data['since'])} to {when(data['until'])}"


def render_md(data: dict[str, Any]) -> str:
    """The report as Markdown; scraped text escaped with `escape.markdown`."""
    out = [f"# {title_line(data)}", ""]
    out.append(
        f"{data['changes']} change{'s' if data['changes'] != 1 else ''}, "
        f"{len(data['open_tasks'])} open task{'s' if len(data['open_tasks']) != 1 else ''}, "
        f"{len(data['failing_sources'])} failing source"
        f"{'s' if len(data['failing_sources']) != 1 else ''}."
    )
    out += ["", "## Changes by lab", ""]
    if not data["labs"]:
        out += ["No change in this period.", ""]
    for lab in data["labs"]:
        out += [f"### {escape.markdown(lab['lab'] or '(no lab)')}", ""]
        for item in lab["changes"]:
            prev = item["previous"]
            before = (
                f"v{prev['number']}"
                if prev["source"] == item["source"]
                else f"{escape.markdown(prev['source'])} v{prev['number']}"
            )
            line = (
                f"- **{escape.markdown(item['title'])}** ({escape.markdown(item['source'])}), "
                f"{before} → v{item['version']}, captured {when(item['captured_at'])}: "
                f"{escape.markdown(item['severity'] or 'no severity')} — "
                f"{escape.markdown(item['summary'])}"
            )
            if item["diff_url"]:
                line += f" [diff]({item['diff_url']})"
            out.append(line)
            for signal in item["signals"]:
                out.append(f"  - {_md_signal(signal)}")
            more = item["signal_count"] - len(item["signals"])
            if more > 0:
                out.append(f"  - and {more} more signal{'s' if more != 1 else ''}")
        out.append("")
    if data["changes_left_out"]:
        out += [f"({data['changes_left_out']} older changes left out.)", ""]
    out += ["## Open tasks", ""]
    if not data["open_tasks"]:
        out += ["No open task.", ""]
    for task in data["open_tasks"]:
        who = escape.markdown(task["assignee"]) if task["assignee"] else "nobody"
        label = f"[#{task['id']}]({task['url']})" if task["url"] else f"#{task['id']}"
        out.append(
            f"- {label} {escape.markdown(task['lab'])} — {escape.markdown(task['title'])}: "
            f"open {_age(task['age_days'])}, assigned to {who}, "
            f"{escape.markdown(task['severity'] or 'no severity')} — "
            f"{escape.markdown(task['summary'], 300)}"
        )
    if data["open_tasks"]:
        out.append("")
    out += ["## Failing sources", ""]
    if not data["failing_sources"]:
        out += ["No failing source.", ""]
    for row in data["failing_sources"]:
        since = f" since {when(row['failing_since'])}" if row["failing_since"] else ""
        out.append(
            f"- **{escape.markdown(row['title'])}** ({escape.markdown(row['source'])}, "
            f"{md_link(row['url'])}): failing{since}, "
            f"{row['consecutive_failures']} failed checks in a row; last error: "
            f"{escape.markdown(row['last_error'] or '-', 300)}"
        )
    return "\n".join(out).rstrip("\n") + "\n"


# --- HTML --------------------------------------------------------------------------

_CSS = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #1f2328; background: #fff; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1rem; } .muted { color: #59636e; } q { font-style: italic; }
"""


def _html_url(url: str | None, label: str) -> str:
    if url and re.match(r"https?://[^/]", url, re.IGNORECASE):
        return f'<a href="{escape.html(url)}">{escape.html(label)}</a>'
    return escape.html(label)


def _html_signal(signal: dict[str, Any]) -> str:
    where = [escape.html(escape.one_line(signal["section"], 120))] if signal["section"] else []
    if signal["page"] is not None:
        where.append(page_label((signal["page"],)))
    line = f"<strong>{escape.html(signal['label'])}</strong>"
    if where:
        line += f" ({', '.join(where)})"
    if signal["old"] or signal["new"]:
        old = (
            f"<q>{escape.html(escape.one_line(signal['old'], QUOTE_MAX))}</q>"
            if signal["old"]
            else "(none)"
        )
        new = (
            f"<q>{escape.html(escape.one_line(signal['new'], QUOTE_MAX))}</q>"
            if signal["new"]
            else "(none)"
        )
        line += f": {old} → {new}"
    return line


def render_html(data: dict[str, Any]) -> str:
    """The report as a standalone HTML page (inline CSS, no scripts); every scraped string escaped."""
    e = escape.html
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy"'
        " content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="referrer" content="no-referrer">',
        f"<title>{e(title_line(data))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title_line(data))}</h1>",
        f'<p class="muted">{plural(data["changes"], "change")}, '
        f"{plural(len(data['open_tasks']), 'open task')}, "
        f"{plural(len(data['failing_sources']), 'failing source')}.</p>",
        "<h2>Changes by lab</h2>",
    ]
    if not data["labs"]:
        out.append("<p>No change in this period.</p>")
    for lab in data["labs"]:
        out.append(f"<h3>{e(lab['lab'] or '(no lab)')}</h3><ul>")
        for item in lab["changes"]:
            prev = item["previous"]
            before = (
                f"v{prev['number']}"
                if prev["source"] == item["source"]
                else f"{e(prev['source'])} v{prev['number']}"
            )
            line = (
                f"<li><strong>{e(item['title'])}</strong> ({e(item['source'])}), "
                f"{before} → v{item['version']}, captured {e(when(item['captured_at']))}: "
                f"{e(item['severity'] or 'no severity')} — {e(item['summary'])}"
            )
            if item["diff_url"]:
                line += " " + _html_url(item["diff_url"], "diff")
            signals = [f"<li>{_html_signal(s)}</li>" for s in item["signals"]]
            more = item["signal_count"] - len(item["signals"])
            if more > 0:
                signals.append(f"<li>and {more} more signals</li>")
            if signals:
                line += "<ul>" + "".join(signals) + "</ul>"
            out.append(line + "</li>")
        out.append("</ul>")
    out.append("<h2>Open tasks</h2>")
    if not data["open_tasks"]:
        out.append("<p>No open task.</p>")
    else:
        out.append("<ul>")
        for task in data["open_tasks"]:
            who = e(task["assignee"]) if task["assignee"] else "nobody"
            out.append(
                f"<li>{_html_url(task['url'], '#' + str(task['id']))} {e(task['lab'])} — "
                f"{e(task['title'])}: open {_age(task['age_days'])}, assigned to {who}, "
                f"{e(task['severity'] or 'no severity')} — "
                f"{e(escape.one_line(task['summary'], 300))}</li>"
            )
        out.append("</ul>")
    out.append("<h2>Failing sources</h2>")
    if not data["failing_sources"]:
        out.append("<p>No failing source.</p>")
    else:
        out.append("<ul>")
        for row in data["failing_sources"]:
            since = f" since {e(when(row['failing_since']))}" if row["failing_since"] else ""
            out.append(
                f"<li><strong>{e(row['title'])}</strong> ({e(row['source'])}, "
                f"{_html_url(row['url'], row['url'])}): failing{since}, "
                f"{row['consecutive_failures']} failed checks in a row; last error: "
                f"{e(escape.one_line(row['last_error'] or '-', 300))}</li>"
            )
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def render_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


RENDERERS = {"md": render_md, "html": render_html, "json": render_json}

"""Rendering alerts: what each kind says, hostile text escaped, sizes bounded."""

from __future__ import annotations

import html
import random
import re
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from html.parser import HTMLParser
from typing import Any

import pytest

from watcher.detect import diff
from watcher.models import Change, Link, Signal
from watcher.notify.alert import Alert
from watcher.notify.email_render import render_email
from watcher.notify.render import SUBJECT_MAX, mrkdwn, render_plain, subject
from watcher.notify.slack_render import (
    SLACK_BLOCKS_MAX,
    SLACK_SECTION_MAX,
    SLACK_TEXT_MAX,
    render_slack,
)

OLD = "\n".join(
    [
        "# Responsible Scaling Policy",
        "## 1. Scope",
        "This policy covers frontier models.",
        "## 2. Security",
        "We commit to protect model weights against theft by state actors.",
        "## 3. Governance",
        "The board reviews the policy every year.",
    ]
)
NEW = OLD.replace("We commit to protect", "We expect to protect").replace(
    "every year.", "every year.\nA new paragraph on evaluations."
)

SAFE_URL = "https://acme.example/rsp"
DASHBOARD = "https://watcher.example/tasks/7"
DOC_URL = "https://acme.example/rsp-v3.pdf"


def change_alert(**overrides: Any) -> Alert:
    values: dict[str, Any] = {
        "kind": "change",
        "source_id": "acme-rsp",
        "lab": "Acme",
        "title": "Responsible Scaling Policy",
        "url": SAFE_URL,
        "link": DASHBOARD,
        "event": "opened",
        "task_id": 7,
        "from_version": 2,
        "old_version": 2,
        "new_version": 3,
        "old_captured_at": "2026-01-01T10:00:00Z",
        "new_captured_at": "2026-01-02T11:30:00Z",
        "change": diff(OLD, NEW),
        "new_documents": (Link("https://acme.example/rsp-v3.pdf", "RSP v3 (PDF)"),),
    }
    values.update(overrides)
    return Alert(**values)


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    page = message.get_body(("html",))
    assert isinstance(text, EmailMessage) and isinstance(page, EmailMessage)
    return text.get_content(), page.get_content()


# --- checkers -----------------------------------------------------------------------

# Our own links: <http(s)://...|label>, URL and label escaped, neither holding < > |.
SLACK_LINK = re.compile(r"<(https?://[^\s<>|]+)\|([^<>|]*)>")


def slack_texts(payload: Any) -> Iterator[str]:
    """Every text Slack will parse as mrkdwn: each "text" string anywhere in the payload."""
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from slack_texts(value)
    elif isinstance(payload, list):
        for value in payload:
            yield from slack_texts(value)


def check_slack(payload: dict[str, Any], allowed_urls: set[str]) -> list[str]:
    """Assert the payload holds no markup but our links to `allowed_urls`; return all texts."""
    assert set(payload) == {"text", "blocks"}  # never link_names / parse / mrkdwn options
    texts = list(slack_texts(payload))
    for text in texts:
        for match in SLACK_LINK.finditer(text):
            assert html.unescape(match.group(1)) in allowed_urls, match.group(0)
        rest = SLACK_LINK.sub("", text)
        assert "<" not in rest and ">" not in rest, rest
        assert not re.search(r"&(?!amp;|lt;|gt;)", rest), rest  # every & is an entity
        assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f\u202e]", text), repr(text)
    return texts


def check_slack_limits(payload: dict[str, Any]) -> None:
    blocks = payload["blocks"]
    assert 2 <= len(blocks) <= SLACK_BLOCKS_MAX
    assert len(payload["text"]) <= SLACK_TEXT_MAX
    header = blocks[0]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert len(header["text"]["text"]) <= 150
    total = 0
    for block in blocks[1:]:
        assert block["type"] in ("section", "context")
        for text in slack_texts(block):
            assert len(text) <= SLACK_SECTION_MAX
            total += len(text)
    assert total <= 12_000


ALLOWED_TAGS: dict[str, set[str]] = {
    "html": set(),
    "head": set(),
    "meta": {"charset"},
    "title": set(),
    "body": {"style"},
    "h2": set(),
    "h3": set(),
    "p": {"style"},
    "strong": set(),
    "table": set(),
    "tr": set(),
    "th": {"style"},
    "td": set(),
    "ul": set(),
    "li": set(),
    "a": {"href"},
    "span": {"style"},
    "del": {"style"},
    "ins": {"style"},
}


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.data: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.data.append(data)


def check_html(page: str, allowed_urls: set[str]) -> str:
    """Assert only our tags and attributes; links only to `allowed_urls`. Returns the text."""
    parser = TagCollector()
    parser.feed(page)
    parser.close()
    for tag, attrs in parser.tags:
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs:
            assert name in ALLOWED_TAGS[tag], (tag, name)
            if name == "href":
                assert value in allowed_urls, value
            if name == "style":
                assert value is not None and re.fullmatch(r"[\w\s:;#.,()%-]+", value), value
    assert not DANGEROUS.search(page), page
    return "".join(parser.data)


def check_headers(message: EmailMessage) -> None:
    raw = message.as_bytes()
    head = raw.split(b"\n\n", 1)[0]
    # Unfold continuation lines; then each header is one line with a known name.
    names = [
        line.split(b":", 1)[0].lower()
        for line in head.split(b"\n")
        if line and not line[:1].isspace()
    ]
    assert set(names) <= {
        b"subject",
        b"from",
        b"to",
        b"date",
        b"message-id",
        b"mime-version",
        b"content-type",
    }, names
    parsed = message_from_bytes(raw, policy=default)
    assert "Bcc" not in parsed
    for name, value in parsed.items():
        assert not re.search(r"[\x00-\x1f\x7f]", str(value)), (name, value)
    assert len(str(parsed["Subject"])) <= SUBJECT_MAX


# --- what each kind says ------------------------------------------------------------


def test_subject_of_a_change_is_exact() -> None:
    assert (
        subject(change_alert()) == "[watcher] Acme — Responsible Scaling Policy changed (v2 → v3)"
    )


def test_change_opened_says_what_changed_everywhere() -> None:
    alert = change_alert(severity="high")
    text = render_plain(alert)
    lines = text.splitlines()
    # lab and document first, then severity and what happened
    assert lines[0] == "Acme — Responsible Scaling Policy · high: changed (v2 → v3)"
    assert lines[1:3] == ["Review task #7 opened.", "Severity: high"]
    assert "Review task #7 opened." in text
    assert f"Source: {SAFE_URL}" in text
    assert "Versions: v2 (2026-01-01 10:00 UTC) → v3 (2026-01-02 11:30 UTC)" in text
    assert "Change: +6/−1 words" in text
    assert (
        "Sections: Responsible Scaling Policy › 2. Security; Responsible Scaling Policy › 3. Governance"
        in text
    )
    assert "- RSP v3 (PDF): https://acme.example/rsp-v3.pdf" in text
    assert "~ We [-commit-] {+expect+} to protect" in text
    assert "+ A new paragraph on evaluations." in text
    assert f"Full diff: {DASHBOARD}" in text

    payload = render_slack(alert)
    joined = "\n".join(
        check_slack(payload, {SAFE_URL, DASHBOARD, "https://acme.example/rsp-v3.pdf"})
    )
    assert payload["blocks"][0]["text"]["text"] == lines[0]  # the header
    assert payload["blocks"][1]["text"]["text"].startswith("*high* · *Acme — ")
    assert f"<{DASHBOARD}|Full diff>" in joined
    assert "<https://acme.example/rsp-v3.pdf|RSP v3 (PDF)>" in joined
    # plain words: Slack's own strike and bold, no code block
    assert "§ Responsible Scaling Policy › 2. Security\n± We ~commit~ *expect* to protect" in joined
    assert "```" not in joined
    assert payload["text"] == "Acme — Responsible Scaling Policy · high: changed (v2 → v3)"
    check_slack_limits(payload)

    message = render_email(alert, sender="watcher@example.org", recipients=["a@example.org"])
    plain, page = parts(message)
    assert plain == text
    shown = check_html(page, {SAFE_URL, DASHBOARD, "https://acme.example/rsp-v3.pdf"})
    assert "Severity: high" in shown and "A new paragraph on evaluations." in shown
    # Deletions and insertions styled inline, struck through and underlined, not colour alone.
    assert re.search(r'<del style="[^"]*line-through[^"]*">commit</del>', page)
    assert re.search(r'<ins style="[^"]*underline[^"]*">expect</ins>', page)


def test_change_extended_says_the_task_now_spans_more_versions() -> None:
    alert = change_alert(event="extended", from_version=1)
    for text in (render_plain(alert), "\n".join(slack_texts(render_slack(alert)))):
        assert "Review task #7 was already open; it now spans v1 → v3." in text


def test_link_is_the_source_when_there_is_no_dashboard() -> None:
    alert = change_alert(link=SAFE_URL)
    assert "Full diff" not in render_plain(alert)
    texts = "\n".join(
        check_slack(render_slack(alert), {SAFE_URL, "https://acme.example/rsp-v3.pdf"})
    )
    assert f"<{SAFE_URL}|{SAFE_URL}>" in texts and "Full diff" not in texts


def test_email_structure_of_a_change() -> None:
    message = render_email(
        change_alert(),
        sender="Watcher <watcher@example.org>",
        recipients=["a@example.org", "b@example.org"],
    )
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    assert attachment.get_content_type() == "text/html"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "diff-acme-rsp-v2-v3.html"
    assert isinstance(attachment, EmailMessage)
    assert "We <del" in attachment.get_content()
    assert message["Subject"] == "[watcher] Acme — Responsible Scaling Policy changed (v2 → v3)"
    assert message["To"] == "a@example.org, b@example.org"
    assert message["From"].addresses[0].addr_spec == "watcher@example.org"
    assert message["Date"] and message["Message-ID"].endswith("@example.org>")
    check_headers(message)


def test_more_signals_counts_every_signal_the_change_raised() -> None:
    # The alert carries its first signals; the count is the change's, not the carried ones'.
    signal = Signal("commitment_weakened", "2. Security", "We commit.", "We expect.", "")
    shown = [Signal("section_added", "3", None, f"Part {i}", f"'Part {i}'") for i in range(7)]
    alert = change_alert(signals=(signal, *shown), signal_count=240)
    slack = "\n".join(slack_texts(render_slack(alert)))
    for text in (render_plain(alert), slack):
        assert "and 235 more signals" in text
    # without a count (older queued alerts), the carried signals are counted
    assert "and 3 more signals" in render_plain(change_alert(signals=(signal, *shown)))


def test_attachment_name_is_a_safe_file_name() -> None:
    message = render_email(
        change_alert(source_id="../../etc/passwd\r\nx"),
        sender="w@example.org",
        recipients=["a@example.org"],
    )
    names = [part.get_filename() for part in message.iter_attachments()]
    assert names == ["diff-etc-passwd-x-v2-v3.html"]


def kinds() -> list[tuple[str, Alert, list[str]]]:
    item = change_alert(change=None, summary="+6/−1 words (4.0% of the text) in 2. Security")
    return [
        (
            "reminder",
            Alert(
                kind="reminder",
                source_id="acme-rsp",
                lab="Acme",
                title="RSP",
                url=SAFE_URL,
                link=DASHBOARD,
                task_id=7,
                from_version=1,
                new_version=3,
                opened_at="2026-01-01T10:00:00Z",
                assignee="dana",
                summary="threshold turned qualitative",
            ),
            [
                "Acme — RSP",
                "review task #7 still open",
                "2026-01-01 10:00 UTC",
                "dana",
                "threshold turned qualitative",
                "v1 → v3",
            ],
        ),
        (
            "reminder unassigned",
            Alert(kind="reminder", lab="Acme", title="RSP", url=SAFE_URL, task_id=7),
            ["nobody"],
        ),
        (
            "failing",
            Alert(
                kind="failing",
                source_id="acme-rsp",
                lab="Acme",
                title="RSP",
                url=SAFE_URL,
                link=SAFE_URL,
                failures=3,
                error="HTTP 503 Service Unavailable",
            ),
            ["Acme — RSP", "3 failed checks in a row", "HTTP 503 Service Unavailable"],
        ),
        (
            "recovered",
            Alert(
                kind="recovered",
                source_id="acme-rsp",
                lab="Acme",
                title="RSP",
                url=SAFE_URL,
                link=SAFE_URL,
            ),
            ["Acme — RSP", "successfully again"],
        ),
        (
            "digest",
            Alert(
                kind="digest",
                items=(item, change_alert(change=None, lab="Beta", title="FSF", summary="typo")),
            ),
            [
                "2 changes",
                "Acme — Responsible Scaling Policy v2 → v3, +6/−1 words (4.0% of the text) in 2. Security",
                "Beta — FSF v2 → v3, typo",
            ],
        ),
        (
            "test",
            Alert(kind="test", title="rater-slack"),
            ["watcher test message from channel", "rater-slack"],
        ),
    ]


@pytest.mark.parametrize(("name", "alert", "expected"), kinds(), ids=[k[0] for k in kinds()])
def test_each_kind_renders(name: str, alert: Alert, expected: list[str]) -> None:
    text = render_plain(alert)
    payload = render_slack(alert)
    slack = "\n".join(check_slack(payload, {SAFE_URL, DASHBOARD}))
    check_slack_limits(payload)
    message = render_email(alert, sender="w@example.org", recipients=["a@example.org"])
    plain, page = parts(message)
    shown = check_html(page, {SAFE_URL, DASHBOARD})
    check_headers(message)
    assert plain == text
    assert message.get_content_type() == "multipart/alternative"  # attachment only for changes
    assert subject(alert).startswith("[watcher] ")
    for phrase in expected:
        assert phrase in text, phrase
        assert mrkdwn(phrase) in slack or phrase in slack.replace("*", ""), phrase
        assert phrase in shown, phrase


def test_subjects_of_the_other_kinds() -> None:
    expected = {
        "reminder": "[watcher] reminder — Acme — RSP: review task #7 still open",
        "failing": "[watcher] failing — Acme — RSP: 3 failed checks in a row",
        "recovered": "[watcher] recovered — Acme — RSP: checked successfully again",
        "digest": "[watcher] Digest: 2 changes",
        "test": "[watcher] Test message from channel rater-slack",
    }
    for name, alert, _ in kinds():
        if name in expected:
            assert subject(alert) == expected[name]


# --- hostile text -------------------------------------------------------------------

HOSTILE = [
    "<!channel>",
    "<!here>",
    "<@U123>",
    "<https://evil.example|click>",
    "&amp; &lt;b&gt;",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "Policy\r\nBcc: victim@evil.example",
    "\x1b[31mred\x1b[0m \x1b]8;;https://evil.example\x07link",
    "evil\u202etxt.exe `code` ```block``` *bold* _it_",
    "\u2066isolate\u2069 \u202aembed\u202c",
    "\u200fmark\u061c line\u2028break\x85next",
]
# What no message may hold raw, wherever the text came from.
DANGEROUS = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def hostile_alerts(bad: str) -> list[Alert]:
    old = f"# Intro {bad}\nWe commit to {bad} safety.\nUnchanged."
    new = f"# Intro {bad}\nWe expect to {bad} safety {bad}.\nUnchanged.\n{bad}"
    fields: dict[str, Any] = {
        "lab": f"Acme {bad}",
        "title": f"RSP {bad}",
        "source_id": f"acme {bad}",
        "summary": f"sum {bad}",
        "new_documents": (
            Link(f"https://acme.example/new?{bad}", bad),
            Link(bad, bad),
            Link(DOC_URL, f"v3 {bad}"),
        ),
    }
    return [
        change_alert(change=diff(old, new), severity=f"high {bad}", **fields),
        change_alert(change=diff(old, new), url=bad, link=bad, **fields),
        Alert(kind="reminder", url=SAFE_URL, task_id=1, assignee=bad, opened_at=bad, **fields),
        Alert(kind="failing", url=SAFE_URL, failures=3, error=f"HTTP 500 {bad}", **fields),
        Alert(kind="recovered", url=f"javascript:alert(1)//{bad}", **fields),
        Alert(kind="digest", items=(change_alert(change=None, **fields),)),
        Alert(kind="test", title=bad, summary=bad),
    ]


@pytest.mark.parametrize("bad", HOSTILE)
def test_hostile_text_is_escaped_in_slack(bad: str) -> None:
    for alert in hostile_alerts(bad):
        payload = render_slack(alert)
        texts = check_slack(payload, {SAFE_URL, DASHBOARD, DOC_URL})
        check_slack_limits(payload)
        joined = "\n".join(texts)
        assert not DANGEROUS.search(joined.replace("\n", " ")), joined
        for mention in ("<!channel>", "<!here>", "<@U123>", "<https://evil"):
            assert mention not in joined
        if alert.kind != "test":
            assert "&lt;!channel&gt;" in joined or "<!channel>" not in bad
        if alert.kind == "change":  # our link stays a link, its hostile label text
            assert f"<{DOC_URL}|v3 " in joined


def test_slack_escapes_ampersand_first_so_entities_stay_text() -> None:
    payload = render_slack(change_alert(title="A &amp; B <x>"))
    joined = "\n".join(slack_texts(payload))
    assert "A &amp;amp; B &lt;x&gt;" in joined


def test_backticks_cannot_close_the_code_block() -> None:
    change = diff("a\nb", "a\nb ``` <!channel> ```\n```")
    payload = render_slack(change_alert(change=change))
    code = [t for t in slack_texts(payload) if t.startswith("```")]
    assert code and all(t.count("```") == 2 and t.endswith("\n```") for t in code)


@pytest.mark.parametrize("bad", HOSTILE)
def test_hostile_text_is_escaped_in_email(bad: str) -> None:
    for alert in hostile_alerts(bad):
        message = render_email(alert, sender="w@example.org", recipients=["a@example.org"])
        _, page = parts(message)
        shown = check_html(page, {SAFE_URL, DASHBOARD, DOC_URL})
        if alert.kind == "change":
            assert f'<a href="{DOC_URL}">v3 ' in page
        check_headers(message)
        assert "\r" not in subject(alert) and "\n" not in subject(alert)
        for name in ("Subject", "From", "To"):
            assert not DANGEROUS.search(str(message[name])), message[name]
        assert not DANGEROUS.search(render_plain(alert).replace("\n", " "))
        if "<script>" in bad:
            assert "<script>" in shown  # shown as text, not parsed as a tag
        for attachment in message.iter_attachments():
            assert isinstance(attachment, EmailMessage)
            assert "<script" not in attachment.get_content()
            assert "<img" not in attachment.get_content()


def test_hostile_url_is_never_a_link() -> None:
    for url in (
        "javascript:alert(1)",
        "https://evil.example|click",
        'https://a.example/"onclick=x',
        "data:text/html,<b>",
    ):
        alert = change_alert(url=url, link=url, new_documents=(Link(url, "doc"),))
        check_slack(render_slack(alert), set())
        _, page = parts(render_email(alert, sender="w@example.org", recipients=["a@example.org"]))
        check_html(page, set())


def test_long_title_is_bounded() -> None:
    alert = change_alert(title="Policy " * 3000)
    assert len(subject(alert)) <= SUBJECT_MAX
    assert subject(alert).endswith("… changed (v2 → v3)")
    check_slack_limits(render_slack(alert))
    check_headers(render_email(alert, sender="w@example.org", recipients=["a@example.org"]))


# --- bounded size -------------------------------------------------------------------


def rewrite(seed: int, *, hostile: bool = False) -> tuple[str, str]:
    """Two ~50,000-word texts (100 sections of 5 paragraphs), most paragraphs rewritten."""
    rng = random.Random(seed)
    vocab = [
        "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 10)))
        for _ in range(3000)
    ]
    if hostile:
        vocab += ["&&&&&&&&", "<<<<<<<<", "<!channel>", "```"]
    old: list[str] = []
    new: list[str] = []
    for section in range(100):
        heading = f"## {section + 1}. Section {'<!here> ' if hostile else ''}{section}"
        old.append(heading)
        new.append(heading)
        for paragraph in range(5):
            words = rng.choices(vocab, k=100)
            old.append(" ".join(words) + ".")
            if paragraph % 2:  # kept: hunks stay separate
                new.append(old[-1])
                continue
            edited = [rng.choice(vocab) if rng.random() < 0.2 else word for word in words]
            new.append(" ".join(edited) + ".")
    return "\n".join(old), "\n".join(new)


@pytest.fixture(scope="module")
def big_change() -> Change:
    change = diff(*rewrite(1))
    assert change is not None
    assert len(change.hunks) >= 300 and change.stats.old_words >= 50_000
    return change


@pytest.fixture(scope="module")
def hostile_big_change() -> Change:
    change = diff(*rewrite(2, hostile=True))
    assert change is not None
    return change


@pytest.mark.parametrize("which", ["big_change", "hostile_big_change"])
def test_a_100_page_rewrite_stays_within_limits(which: str, request: pytest.FixtureRequest) -> None:
    change: Change = request.getfixturevalue(which)
    alert = change_alert(
        change=change, new_documents=tuple(Link(f"{SAFE_URL}/{i}", f"doc {i}") for i in range(200))
    )

    payload = render_slack(alert)
    check_slack_limits(payload)
    texts = check_slack(payload, {SAFE_URL, DASHBOARD} | {f"{SAFE_URL}/{i}" for i in range(200)})
    assert any("more changes in the full diff" in text for text in texts)
    assert f"<{DASHBOARD}|Full diff>" in texts[-1]  # the link survives the cut

    message = render_email(alert, sender="w@example.org", recipients=["a@example.org"])
    plain, page = parts(message)
    assert len(plain.encode()) <= 100_000
    assert len(page.encode()) <= 100_000
    assert "more changes" in plain
    (attachment,) = message.iter_attachments()
    assert isinstance(attachment, EmailMessage)
    assert attachment.get_content().count('<section class="hunk">') == len(change.hunks)
    check_html(page, {SAFE_URL, DASHBOARD} | {f"{SAFE_URL}/{i}" for i in range(200)})


def test_a_long_digest_stays_within_limits() -> None:
    items = tuple(
        change_alert(change=None, title=f"Policy {i} " + "&" * 300, summary="<!channel> " * 50)
        for i in range(1000)
    )
    alert = Alert(kind="digest", items=items)
    payload = render_slack(alert)
    check_slack_limits(payload)
    check_slack(payload, {DASHBOARD})
    assert "more change" in "\n".join(slack_texts(payload))
    plain, page = parts(render_email(alert, sender="w@example.org", recipients=["a@example.org"]))
    assert len(plain.encode()) <= 100_000
    assert len(page.encode()) <= 200_000

"""config.toml → Config: the shipped file, the documented example, and every kind of mistake."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from watcher.config import (
    Config,
    EmailChannel,
    SlackChannel,
    _AnalysisModel,
    _AppriseModel,
    _DashboardModel,
    _EmailModel,
    _LabModel,
    _RaterModel,
    _SlackModel,
    _SourceModel,
    _WatcherModel,
    _WebhookModel,
    default_config_path,
    load_config,
    parse_duration,
    parse_size,
)
from watcher.css import selector_problem
from watcher.errors import ConfigError, NotFound, SuspiciousExtraction
from watcher.extract import extract
from watcher.models import ExtractRules

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "configuration.md"

CHANNELS = """
[channels.raters-slack]
type = "slack"
webhook_url_env = "WATCHER_SLACK_WEBHOOK_URL"

[channels.raters-email]
type = "email"
smtp_host = "smtp.example.org"
from = "watcher@example.org"
to = ["raters@example.org"]
"""


def source(id: str = "acme-rsp", **keys: str) -> str:
    """A [[sources]] table; values are TOML text, `None`-free, e.g. select='"main"'."""
    fields = {
        "id": f'"{id}"',
        "lab": '"Acme"',
        "title": '"Responsible Scaling Policy"',
        "url": '"https://acme.example/rsp"',
        **keys,
    }
    return "\n[[sources]]\n" + "".join(f"{key} = {value}\n" for key, value in fields.items())


def load_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Config:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    return load_config("config.toml")


def problems_of(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, monkeypatch, text)
    return caught.value.problems


# -- the files people actually use ------------------------------------------

SHIPPED_IDS = [
    "anthropic-rsp",
    "anthropic-rsp-updates",
    "openai-preparedness",
    "openai-preparedness-announcement",
    "gdm-fsf",
    "gdm-fsf-blog",
    "meta-frontier-ai",
    "xai-rmf",
    "microsoft-fgf",
    "amazon-fmsf",
    "nvidia-frontier",
    "cohere-secure-ai",
    "g42-frontier",
    "naver-asf",
    "magic-agi-readiness",
]


def test_shipped_config_loads_with_every_default_source() -> None:
    config = load_config(ROOT / "config.toml")

    assert [s.id for s in config.sources] == SHIPPED_IDS
    assert config.watcher.state_dir == ROOT / "state"
    assert set(config.channels) == {"raters-slack", "raters-email"}
    assert all(s.notify == ("raters-slack", "raters-email") for s in config.sources)
    by_id = {s.id: s for s in config.sources}
    assert by_id["anthropic-rsp"].follow and by_id["gdm-fsf-blog"].follow
    pdfs = {s.id for s in config.sources if s.kind == "pdf"}
    assert {"openai-preparedness", "gdm-fsf", "meta-frontier-ai", "xai-rmf"} <= pdfs
    assert all(s.select for s in config.sources if s.kind != "pdf")
    # A fresh machine has no secrets yet, and the email channel holds the
    # example's placeholders: warnings, not errors.
    assert len(config.warnings({})) == 3


def toml_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```toml\n(.*?)^```", markdown, flags=re.S | re.M)


def test_every_toml_example_in_the_reference_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = toml_blocks(REFERENCE.read_text(encoding="utf-8"))

    assert len(blocks) >= 2
    for block in blocks:
        load_text(tmp_path, monkeypatch, block)
    example = load_text(tmp_path, monkeypatch, blocks[0])
    assert example.source("anthropic-rsp").interval == 3600
    assert example.source("openai-preparedness").cron == "0 6 * * mon-fri"


@pytest.mark.parametrize(
    ("table", "model"),
    [
        ("[watcher]", _WatcherModel),
        ("slack", _SlackModel),
        ("email", _EmailModel),
        ("webhook", _WebhookModel),
        ("apprise", _AppriseModel),
        ("[[sources]]", _SourceModel),
        ("[analysis]", _AnalysisModel),
        ("[dashboard]", _DashboardModel),
        ("[labs.NAME]", _LabModel),
        ("[raters.NAME]", _RaterModel),
    ],
)
def test_every_key_is_documented(table: str, model: type) -> None:
    reference = REFERENCE.read_text(encoding="utf-8")
    for name, info in model.model_fields.items():
        key = info.alias or name
        assert f"| `{key}` |" in reference, f"{table} {key} is not in {REFERENCE.name}"


def test_documented_user_agent_default_is_the_real_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_text(tmp_path, monkeypatch, "")
    assert f'`"{config.watcher.user_agent}"`' in REFERENCE.read_text(encoding="utf-8")


# -- one mistake, one line ----------------------------------------------------

BAD = [
    ("unknown top-level key", "sourcs = []\n", "sourcs: unknown key (did you mean 'sources'?)"),
    (
        "unknown key in [watcher]",
        "[watcher]\nconcurency = 4\n",
        "watcher.concurency: unknown key (did you mean 'concurrency'?)",
    ),
    (
        "unknown key in a channel",
        CHANNELS.replace('type = "slack"', 'type = "slack"\ncolour = "red"'),
        "channels.raters-slack.colour: unknown key",
    ),
    (
        "unknown key in a source",
        source(selector='"main"'),
        "sources[0] (acme-rsp).selector: unknown key (did you mean 'select'?)",
    ),
    (
        "unknown table",
        "[reports]\nx = 1\n",
        "reports: unknown key",
    ),
    (
        "bad duration",
        source(interval='"5 minutes"'),
        "sources[0] (acme-rsp).interval: '5 minutes' is not a duration (use 90s, 30m, 6h, 1d)",
    ),
    (
        "zero duration",
        '[watcher]\ntimeout = "0s"\n',
        "watcher.timeout: '0s' is not a positive duration (use 90s, 30m, 6h, 1d)",
    ),
    (
        "negative duration",
        '[watcher]\nremind_after = "-3d"\n',
        "watcher.remind_after: '-3d' is not a duration (use 90s, 30m, 6h, 1d)",
    ),
    (
        "duration without a unit",
        "[watcher]\ndefault_interval = 6\n",
        "watcher.default_interval: 6 is not a duration: give a unit (use 90s, 30m, 6h, 1d)",
    ),
    (
        "bad size",
        '[watcher]\nmax_bytes = "25 megs"\n',
        "watcher.max_bytes: '25 megs' is not a size (use 500KB, 25MB, 1GB or a number of bytes)",
    ),
    (
        "zero size",
        "[watcher]\nmax_bytes = 0\n",
        "watcher.max_bytes: 0 is not a positive size (use 500KB, 25MB, 1GB or a number of bytes)",
    ),
    (
        "integer expected",
        '[watcher]\nconcurrency = "16"\n',
        "watcher.concurrency: expected an integer, got string '16'",
    ),
    (
        "below the minimum",
        "[watcher]\nper_host = 0\n",
        "watcher.per_host: must be at least 1, got 0",
    ),
    (
        "failure_alert_after below 1",
        "[watcher]\nfailure_alert_after = 0\n",
        "watcher.failure_alert_after: must be at least 1, got 0",
    ),
    (
        "bad digest time",
        '[watcher]\ndigest_at = "9am"\n',
        "watcher.digest_at: '9am' is not a time of day (use HH:MM, 24-hour, UTC)",
    ),
    (
        "bad dashboard_url",
        '[watcher]\ndashboard_url = "dashboard.local"\n',
        "watcher.dashboard_url: 'dashboard.local' is not an http(s) URL",
    ),
    (
        "duplicate id",
        source() + source(),
        "sources[1] (acme-rsp).id: duplicate id 'acme-rsp' (also sources[0])",
    ),
    (
        "bad id",
        source("Acme_RSP"),
        "sources[0] (Acme_RSP).id: 'Acme_RSP' is not a valid id (lowercase letters, digits "
        "and single hyphens, not at either end, e.g. 'acme-rsp')",
    ),
    (
        "id with a double hyphen, reserved for followed documents",
        source("acme--rsp"),
        "sources[0] (acme--rsp).id: 'acme--rsp' is not a valid id (lowercase letters, digits "
        "and single hyphens, not at either end, e.g. 'acme-rsp')",
    ),
    (
        "missing required key",
        '[[sources]]\nid = "acme-rsp"\nlab = "Acme"\nurl = "https://acme.example/"\n',
        "sources[0] (acme-rsp).title: required key is missing",
    ),
    (
        "unknown notify channel",
        CHANNELS + source(notify='["raters-slak"]'),
        "sources[0] (acme-rsp).notify: unknown channel 'raters-slak' (known: raters-email, raters-slack)",
    ),
    (
        "unknown channel in [watcher] notify",
        '[watcher]\nnotify = ["raters"]\n',
        "watcher.notify: unknown channel 'raters' (known: no channels are configured)",
    ),
    (
        "ftp URL",
        source(url='"ftp://acme.example/rsp.pdf"'),
        "sources[0] (acme-rsp).url: 'ftp://acme.example/rsp.pdf' is not an http(s) URL",
    ),
    (
        "URL without a host",
        source(url='"https:///rsp"'),
        "sources[0] (acme-rsp).url: 'https:///rsp' has no host",
    ),
    (
        "not a URL",
        source(url='"not a url"'),
        "sources[0] (acme-rsp).url: 'not a url' is not an http(s) URL",
    ),
    (
        "URL with a space",
        source(url='"https://acme.example/r p"'),
        "sources[0] (acme-rsp).url: 'https://acme.example/r p' is not an http(s) URL",
    ),
    (
        "URL with a Unicode space",
        source(url='"https://acme.example/\u2003rsp"'),
        "sources[0] (acme-rsp).url: 'https://acme.example/\\u2003rsp' is not an http(s) URL",
    ),
    (
        "title with a line break",
        source(title='"Policy\\nv2"'),
        "sources[0] (acme-rsp).title: must be one line without control characters",
    ),
    (
        "title with a DEL",
        source(title='"Policy\\u007f"'),
        "sources[0] (acme-rsp).title: must be one line without control characters",
    ),
    (
        "bad CSS selector",
        source(select='"main["'),
        "sources[0] (acme-rsp).select: 'main[' is not a valid CSS selector: "
        "expected ident or '*', got the end",
    ),
    (
        "bad CSS selector in a list",
        source(remove='["nav", "div >> p"]'),
        "sources[0] (acme-rsp).remove[1]: 'div >> p' is not a valid CSS selector: "
        "expected selector, got '>' at position 5",
    ),
    (
        "bad follow selector",
        source(follow='"a[href$=.pdf"'),
        "sources[0] (acme-rsp).follow: 'a[href$=.pdf' is not a valid CSS selector: "
        "expected string or ident, got '.' at position 8",
    ),
    (
        "unsupported pseudo-class",
        source(select='"p:dir(ltr)"'),
        "sources[0] (acme-rsp).select: 'p:dir(ltr)': ':dir()' is not supported",
    ),
    (
        "unsupported pseudo-class in a list",
        source(remove='["nav", "a:any-link"]'),
        "sources[0] (acme-rsp).remove[1]: 'a:any-link': ':any-link' is not supported",
    ),
    (
        "unsupported nth-child of a selector",
        source(select='"li:nth-child(2 of .x)"'),
        "sources[0] (acme-rsp).select: 'li:nth-child(2 of .x)': "
        "':nth-child(… of …)' is not supported",
    ),
    (
        "pseudo-element",
        source(select='"p::before"'),
        "sources[0] (acme-rsp).select: 'p::before' is not supported: "
        "pseudo-elements are not supported",
    ),
    (
        "namespace",
        source(select='"svg|rect"'),
        "sources[0] (acme-rsp).select: 'svg|rect' is not supported: undefined namespace prefix",
    ),
    (
        "bad regex",
        source(ignore="['^Updated (']"),
        "sources[0] (acme-rsp).ignore[0]: '^Updated (' is not a valid regular expression: "
        "missing ), unterminated subpattern at position 9",
    ),
    (
        "bad lineage regex",
        source(follow='"a"', lineage='"(?P<policy>usage"'),
        "sources[0] (acme-rsp).lineage: '(?P<policy>usage' is not a valid regular expression: "
        "missing ), unterminated subpattern at position 0",
    ),
    (
        "lineage group misnamed",
        source(follow='"a"', lineage='"(?P<name>usage|privacy)"'),
        "sources[0] (acme-rsp).lineage: names the group(s) name: "
        "call the policy's group (?P<policy>…)",
    ),
    (
        "lineage matching nothing",
        source(follow='"a"', lineage='"(usage)?"'),
        "sources[0] (acme-rsp).lineage: '(usage)?' matches an empty text: "
        "every document would be one policy",
    ),
    (
        "lineage without follow",
        source(lineage='"usage|privacy"'),
        "sources[0] (acme-rsp).lineage: groups followed documents: set `follow` too, or remove it",
    ),
    (
        "interval and cron",
        source(interval='"1h"', cron='"0 * * * *"'),
        "sources[0] (acme-rsp).cron: set either interval or cron, not both",
    ),
    (
        "cron with three fields",
        source(cron='"* * *"'),
        "sources[0] (acme-rsp).cron: '* * *' is not a cron expression: expected 5 fields "
        "(minute hour day month day-of-week), got 3",
    ),
    (
        "cron out of range",
        source(cron='"61 * * * *"'),
        "sources[0] (acme-rsp).cron: '61 * * * *' is not a cron expression: Error validating "
        "expression '61': the last value (61) is higher than the maximum value (59)",
    ),
    (
        "cron day of week as a number",
        source(cron='"0 9 * * 0"'),
        "sources[0] (acme-rsp).cron: '0 9 * * 0': write the day of week as a name "
        "(mon, tue, ... sun, or mon-fri), not a number",
    ),
    (
        "bad kind",
        source(kind='"xml"'),
        "sources[0] (acme-rsp).kind: 'xml' is not allowed (use 'auto', 'html' or 'pdf')",
    ),
    (
        "sources as a single table",
        '[sources]\nid = "x"\n',
        "sources: expected an array of tables ([[sources]]), got a table ([sources])",
    ),
    (
        "bad channel type",
        '[channels.raters]\ntype = "teams"\n',
        "channels.raters.type: unknown channel type 'teams' (known: apprise, email, slack, webhook)",
    ),
    (
        "channel without a type",
        '[channels.raters]\nwebhook_url_env = "X"\n',
        'channels.raters.type: required key is missing ("slack", "email", "webhook", "apprise")',
    ),
    (
        "email without to",
        CHANNELS.replace('to = ["raters@example.org"]', ""),
        "channels.raters-email.to: required key is missing",
    ),
    (
        "email with an empty to",
        CHANNELS.replace('to = ["raters@example.org"]', "to = []"),
        "channels.raters-email.to: needs at least one address",
    ),
    (
        "email address with a line break",
        CHANNELS.replace('"raters@example.org"', '"raters@example.org\\r\\nBcc: all@example.org"'),
        "channels.raters-email.to[0]: 'raters@example.org\\r\\nBcc: all@example.org' "
        "contains a line break or control character",
    ),
    (
        "not an email address",
        CHANNELS.replace('from = "watcher@example.org"', 'from = "watcher"'),
        "channels.raters-email.from: 'watcher' is not an email address",
    ),
    (
        "SMTP port out of range",
        CHANNELS.replace(
            'smtp_host = "smtp.example.org"', 'smtp_host = "smtp.example.org"\nsmtp_port = 0'
        ),
        "channels.raters-email.smtp_port: must be at least 1, got 0",
    ),
    (
        "bad security",
        CHANNELS.replace(
            'smtp_host = "smtp.example.org"', 'smtp_host = "smtp.example.org"\nsecurity = "tls"'
        ),
        "channels.raters-email.security: 'tls' is not allowed (use 'starttls', 'ssl' or 'none')",
    ),
    (
        "username without password",
        CHANNELS.replace(
            'from = "watcher@example.org"',
            'username_env = "SMTP_USER"\nfrom = "watcher@example.org"',
        ),
        "channels.raters-email.password_env: required when username_env is set",
    ),
    (
        "severity outside the scale",
        '[analysis]\nalert_min_severity = "low"\n',
        "analysis.alert_min_severity: 'low' is not allowed (use 'minor', 'substantive' or 'major')",
    ),
    (
        "share above 1",
        "[analysis]\nlarge_rewrite_share = 1.5\n",
        "analysis.large_rewrite_share: must be at most 1, got 1.5",
    ),
    (
        "dashboard exposed without a token",
        '[dashboard]\nenabled = true\nhost = "0.0.0.0"\n',
        "dashboard.auth_token_env: required (or [dashboard.users]) when host is not a loopback "
        "address (host is '0.0.0.0')",
    ),
    (
        "a table where a table of settings should be",
        "watcher = 3\n",
        "watcher: expected a table ([watcher]), got integer",
    ),
]


@pytest.mark.parametrize(("case", "text", "expected"), BAD, ids=[case for case, _, _ in BAD])
def test_a_mistake_is_one_line_naming_file_key_and_problem(
    case: str, text: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert problems_of(tmp_path, monkeypatch, text) == [f"config.toml: {expected}"]


def test_a_pasted_secret_is_refused_without_being_echoed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    text = CHANNELS.replace('"WATCHER_SLACK_WEBHOOK_URL"', f'"{secret}"')

    problems = problems_of(tmp_path, monkeypatch, text)

    assert problems == [
        "config.toml: channels.raters-slack.webhook_url_env: must be the name of an environment "
        "variable (letters, digits, _), not the secret itself"
    ]
    text = CHANNELS.replace(
        'webhook_url_env = "WATCHER_SLACK_WEBHOOK_URL"', f'webhook_url = "{secret}"'
    )
    assert "SECRET" not in "\n".join(problems_of(tmp_path, monkeypatch, text))


def test_a_toml_syntax_error_names_line_and_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = '[watcher]\nconcurrency = 4\nuser_agent "watcher"\n'

    problems = problems_of(tmp_path, monkeypatch, text)

    assert problems == [
        "config.toml: line 3, column 12: Expected '=' after a key in a key/value pair"
    ]


def test_a_byte_order_mark_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # as Notepad saves "UTF-8"
    monkeypatch.chdir(tmp_path)
    text = '[watcher]\nconcurrency = 4\n\n[[sources]]\nid = "a"\nlab = "L"\ntitle = "T"\n'
    text += 'url = "https://example.org/p"\n'
    (tmp_path / "config.toml").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    config = load_config("config.toml")
    assert config.watcher.concurrency == 4 and [s.id for s in config.sources] == ["a"]


def test_bytes_that_are_not_utf8_are_named_by_position_even_after_a_bom(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_bytes(b"\xef\xbb\xbf# caf\xe9\n")
    with pytest.raises(ConfigError) as caught:
        load_config("config.toml")
    assert caught.value.problems == [
        "config.toml: not UTF-8 text (invalid continuation byte at byte 8)"
    ]


def test_a_missing_file_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_config("config.toml")
    assert caught.value.problems == [
        "config.toml: file not found (pass --config PATH or set WATCHER_CONFIG)"
    ]


def test_every_problem_is_reported_at_once_in_file_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        '[watcher]\nconcurency = 4\nmax_bytes = "lots"\n'
        + CHANNELS.replace('to = ["raters@example.org"]', "")
        + source("acme-rsp", interval='"5 minutes"', notify='["raters-slak"]')
        + source("acme-fsf", url='"ftp://acme.example/fsf"', select='"main["')
        + source("acme-rsp")
    )

    problems = problems_of(tmp_path, monkeypatch, text)

    assert problems == [
        "config.toml: watcher.concurency: unknown key (did you mean 'concurrency'?)",
        "config.toml: watcher.max_bytes: 'lots' is not a size (use 500KB, 25MB, 1GB or a number of bytes)",
        "config.toml: channels.raters-email.to: required key is missing",
        "config.toml: sources[0] (acme-rsp).interval: '5 minutes' is not a duration (use 90s, 30m, 6h, 1d)",
        "config.toml: sources[0] (acme-rsp).notify: unknown channel 'raters-slak' (known: raters-email, raters-slack)",
        "config.toml: sources[1] (acme-fsf).url: 'ftp://acme.example/fsf' is not an http(s) URL",
        "config.toml: sources[1] (acme-fsf).select: 'main[' is not a valid CSS selector: expected ident or '*', got the end",
        "config.toml: sources[2] (acme-rsp).id: duplicate id 'acme-rsp' (also sources[0])",
    ]


def test_problems_name_the_path_as_given(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text("[watcher]\nretries = -1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [f"{path}: watcher.retries: must be at least 0, got -1"]


# -- what a valid file turns into ---------------------------------------------


def test_an_empty_file_gives_the_documented_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_text(tmp_path, monkeypatch, "")

    w = config.watcher
    assert (w.default_interval, w.timeout, w.max_bytes) == (6 * 3600, 30.0, 25_000_000)
    assert (w.concurrency, w.per_host, w.failure_alert_after) == (100, 2, 3)
    assert (w.remind_after, w.remind_every, w.keep_checks) == (3 * 86400, 3 * 86400, 90 * 86400)
    assert (w.digest_at, w.shutdown_grace, w.max_redirects, w.retries) == ("09:00", 30.0, 10, 2)
    assert (w.notify, w.admin_notify, w.dashboard_url) == ((), None, "")
    assert config.analysis.alert_min_severity == "minor"
    assert config.analysis.large_rewrite_share == 0.5
    assert (config.dashboard.enabled, config.dashboard.host, config.dashboard.port) == (
        False,
        "127.0.0.1",
        8765,
    )
    assert config.sources == () and dict(config.channels) == {}


def test_values_are_converted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (
        '[watcher]\ndefault_interval = "1h30m"\nmax_bytes = "500KB"\ndigest_at = "7:05"\n'
        'dashboard_url = "https://watch.example/"\nadmin_notify = "raters-email"\n'
        + CHANNELS.replace(
            'smtp_host = "smtp.example.org"', 'smtp_host = "smtp.example.org"\nsecurity = "ssl"'
        )
        + source(select='"main"', remove='"nav"', cron='"0 */6 * * *"', watch_terms='"ASL-3"')
        + source("acme-fsf", select='["main", "article"]', kind='"pdf"', enabled="false")
    )

    config = load_text(tmp_path, monkeypatch, text)

    assert config.watcher.default_interval == 5400
    assert config.watcher.max_bytes == 500_000
    assert config.watcher.digest_at == "07:05"
    assert config.watcher.dashboard_url == "https://watch.example"
    assert config.watcher.admin_notify == ("raters-email",)
    email = config.channels["raters-email"]
    assert isinstance(email, EmailChannel)
    assert (email.smtp_port, email.security, email.from_addr, email.to) == (
        465,
        "ssl",
        "watcher@example.org",
        ("raters@example.org",),
    )
    assert isinstance(config.channels["raters-slack"], SlackChannel)
    rsp, fsf = config.sources
    assert (rsp.select, rsp.remove, rsp.watch_terms) == (("main",), ("nav",), ("ASL-3",))
    assert (rsp.cron, rsp.interval) == ("0 */6 * * *", None)
    assert (fsf.select, fsf.kind, fsf.enabled, fsf.interval) == (
        ("main", "article"),
        "pdf",
        False,
        5400,
    )
    assert rsp.rules == ExtractRules(select=("main",), remove=("nav",))


def test_state_dir_is_resolved_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc" / "watcher"
    folder.mkdir(parents=True)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cases = {
        "state": folder / "state",
        "../../var/lib/watcher": tmp_path / "var" / "lib" / "watcher",
        "/srv/watcher": Path("/srv/watcher"),
        "~/watcher-state": tmp_path / "home" / "watcher-state",
    }
    for value, expected in cases.items():
        (folder / "config.toml").write_text(f'[watcher]\nstate_dir = "{value}"\n', encoding="utf-8")
        config = load_config(Path("..") / "etc" / "watcher" / "config.toml")
        assert config.watcher.state_dir == expected, value
        assert config.path == folder / "config.toml"


def test_notify_defaults_to_the_watcher_channels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        '[watcher]\nnotify = ["raters-slack"]\n'
        + CHANNELS
        + source("default")
        + source("own", notify='["raters-email"]')
        + source("silent", notify="[]")
    )

    config = load_text(tmp_path, monkeypatch, text)

    assert config.source("default").notify == ("raters-slack",)
    assert config.source("own").notify == ("raters-email",)
    assert config.source("silent").notify == ()


def test_unknown_source_is_not_found_with_a_suggestion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_text(tmp_path, monkeypatch, source("acme-rsp"))
    with pytest.raises(
        NotFound, match=r"no source 'acme-rps' in config.toml \(did you mean 'acme-rsp'\?\)"
    ):
        config.source("acme-rps")


def test_warnings_name_each_channel_whose_secret_is_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = CHANNELS.replace(
        'from = "watcher@example.org"',
        'username_env = "SMTP_USER"\npassword_env = "SMTP_PASSWORD"\nfrom = "watcher@example.org"',
    )
    # real-looking names: only the secrets are missing
    text = text.replace("smtp.example.org", "relay.internal").replace("@example.org", "@internal")
    config = load_text(tmp_path, monkeypatch, text)

    assert config.warnings({"SMTP_USER": "me", "SMTP_PASSWORD": ""}) == [
        "config.toml: channels.raters-slack: WATCHER_SLACK_WEBHOOK_URL is not set; "
        "alerts for this channel wait in the outbox until it is",
        "config.toml: channels.raters-email: SMTP_PASSWORD is not set; "
        "alerts for this channel wait in the outbox until it is",
    ]
    everything = {
        "WATCHER_SLACK_WEBHOOK_URL": "https://hooks",
        "SMTP_USER": "me",
        "SMTP_PASSWORD": "pw",
    }
    assert config.warnings(everything) == []
    monkeypatch.setenv("WATCHER_SLACK_WEBHOOK_URL", "https://hooks")
    monkeypatch.delenv("SMTP_USER", raising=False)
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    assert [line.split(":")[1].strip() for line in config.warnings()] == ["channels.raters-email"]


def test_an_email_channel_without_login_needs_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_text(tmp_path, monkeypatch, CHANNELS)
    assert config.channels["raters-email"].secret_missing({}) == []
    assert config.channels["raters-slack"].secret_missing({}) == ["WATCHER_SLACK_WEBHOOK_URL"]


def test_rules_hash_follows_select_remove_ignore_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variants = {
        "base": {"select": '"main"'},
        "select as a list": {"select": '["main"]'},
        "other url": {"select": '"main"', "url": '"https://acme.example/other"'},
        "interval": {"select": '"main"', "interval": '"1d"'},
        "follow": {"select": '"main"', "follow": '"a"'},
        "select": {"select": '"article"'},
        "remove": {"select": '"main"', "remove": '"nav"'},
        "ignore": {"select": '"main"', "ignore": "'^Updated'"},
    }
    hashes = {
        name: load_text(tmp_path, monkeypatch, source(**keys)).sources[0].rules_hash
        for name, keys in variants.items()
    }

    same = {
        hashes[name] for name in ("base", "select as a list", "other url", "interval", "follow")
    }
    assert len(same) == 1
    assert len({hashes["base"], hashes["select"], hashes["remove"], hashes["ignore"]}) == 4
    assert re.fullmatch(r"[0-9a-f]{64}", hashes["base"])


# -- the value parsers --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("6h", 21600), ("1d", 86400), ("2w", 1209600),
     ("1h30m", 5400), ("1h 30m", 5400), ("1.5h", 5400), (" 6H ", 21600)],
)  # fmt: skip
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["5 minutes", "0s", "0h0m", "-5m", "", "h", "5", "1h30", "6 hours"]
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a (positive )?duration \(use 90s, 30m, 6h, 1d\)"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [("25MB", 25_000_000), ("500KB", 500_000), ("1GB", 10**9), ("1MiB", 1_048_576),
     ("1.5 mb", 1_500_000), ("1234", 1234), (1234, 1234), ("10b", 10)],
)  # fmt: skip
def test_parse_size(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["25 megs", "", "MB", "0", 0, -1, "-1MB", "1TB", True])
def test_parse_size_rejects(text: str | int) -> None:
    with pytest.raises(ValueError, match=r"is not a (positive )?size"):
        parse_size(text)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({}, Path("config.toml")), ({"WATCHER_CONFIG": ""}, Path("config.toml")),
     ({"WATCHER_CONFIG": "/etc/watcher/config.toml"}, Path("/etc/watcher/config.toml"))],
)  # fmt: skip
def test_default_config_path(environ: dict[str, str], expected: Path) -> None:
    assert default_config_path(environ) == expected


_CSS_TOKENS = st.sampled_from(
    [
        "main", "div", "*", "#id", ".cls", "-x", "_y", "[href]", '[href$=".pdf" i]', "[a='b']",
        "[data-x|=en]", ":first-child", ":last-child", ":not(", ":has(", ":is(", ")", " ", " > ",
        " + ", " ~ ", ", ", "[", "]", "=", '"', "'", "#", ".", "1", ":nth-child(2)", "::before",
        "\\", "\n", "svg|", ":-soup-contains('x')", ":contains(", ":dir(ltr)", ":root",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_CSS_TOKENS, min_size=1, max_size=8))
@example(["\\", "1"])  # an escaped control character: lxml refuses the XPath itself
def test_a_selector_validation_accepts_runs_on_a_page(tokens: list[str]) -> None:
    """What config validation accepts never fails a check; what it refuses, it says why."""
    selector = "".join(tokens)
    problem = selector_problem(selector)
    if problem is not None:
        assert problem.startswith(repr(selector)) and "\n" not in problem
        return
    content = b"<html><body><main><p class='cls'>Policy text</p></main></body></html>"
    rules = ExtractRules(remove=(selector,), follow=selector)
    # the selector may remove all text: a result, not a failure of the selector
    with contextlib.suppress(SuspiciousExtraction):
        extract(content, content_type="text/html", charset="utf-8", url="https://x/", rules=rules)


# -- the browser and each source's own request settings ----------------------


def test_browser_and_request_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (
        '[watcher]\nbrowser = "auto"\nbrowser_path = "/usr/bin/chromium"\nbrowser_concurrency = 3\n'
        + source(
            "rendered",
            browser="true",
            headers='{"Accept-Language" = "en-US"}',
            cookies_env='{session = "ACME_SESSION"}',
            user_agent='"Mozilla/5.0 (policy reader)"',
        )
        + source("inherits")
        + source("plain", browser="false")
    )
    config = load_text(tmp_path, monkeypatch, text)
    assert config.watcher.browser == "auto"
    assert config.watcher.browser_path == "/usr/bin/chromium"
    assert config.watcher.browser_concurrency == 3
    rendered, inherits, plain = config.sources
    assert rendered.browser is True
    assert rendered.headers == (("Accept-Language", "en-US"),)
    assert rendered.cookies_env == (("session", "ACME_SESSION"),)
    assert rendered.user_agent == "Mozilla/5.0 (policy reader)"
    assert inherits.browser == "auto" and inherits.user_agent is None
    assert plain.browser is False
    # an unset cookie variable is a warning, not an error
    assert config.warnings({}) == [
        "config.toml: sources[0] (rendered).cookies_env.session: ACME_SESSION is not set; "
        "the cookie is not sent"
    ]
    assert config.warnings({"ACME_SESSION": "x"}) == []


def test_browser_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_text(tmp_path, monkeypatch, source())
    assert config.watcher.browser is False
    assert config.watcher.browser_path is None
    assert config.watcher.browser_concurrency == 2
    assert config.sources[0].browser is False
    assert config.sources[0].headers == () and config.sources[0].cookies_env == ()


def test_bad_browser_and_request_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (
        "[watcher]\nbrowser = true\nbrowser_concurrency = 0\n"
        + source("a", browser='"yes"')
        + source("b", headers='{"Bad Name" = "x"}')
        + source("c", headers='{"Host" = "evil.example"}')
        + source("d", cookies_env='{session = "abc=123; secret"}')
        + source("e", headers='"Accept-Language: en"')
        + source("f", user_agent='"two\\nlines"')
    )
    problems = problems_of(tmp_path, monkeypatch, text)
    assert problems == [
        'config.toml: watcher.browser: expected false or "auto" (a source sets browser = true '
        "itself), got True",
        "config.toml: watcher.browser_concurrency: must be at least 1, got 0",
        "config.toml: sources[0] (a).browser: expected true, false or \"auto\", got string 'yes'",
        "config.toml: sources[1] (b).headers: 'Bad Name' is not a header name",
        "config.toml: sources[2] (c).headers: 'Host' is set by the HTTP client, not by the config",
        "config.toml: sources[3] (d).cookies_env: session: must be the name of an environment "
        "variable holding the cookie's value (letters, digits, _), not the value itself",
        'config.toml: sources[4] (e).headers: expected a table such as {"Accept-Language" = '
        '"en-US"}, got string',
        "config.toml: sources[5] (f).user_agent: must be one line without control characters",
    ]
    # the pasted cookie value is never echoed
    assert not any("abc=123" in line for line in problems)


def test_a_lineage_rule_loads_with_its_follow_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = r"(?P<policy>consumer|business)[- ]terms"
    text = CHANNELS + source(follow="\"a[href$='.pdf']\"", lineage=f"'{rule}'") + source("plain")
    config = load_text(tmp_path, monkeypatch, text)
    assert config.sources[0].lineage == rule
    assert config.sources[1].lineage is None


@pytest.mark.parametrize(
    ("host", "for_mail", "reserved"),
    [
        ("smtp.example.org", False, True),
        ("example.com", False, True),
        ("mail.example.net", False, True),
        ("relay.example", False, True),
        ("smtp.invalid", False, True),
        ("relay.test", False, True),
        ("SMTP.Example.ORG.", False, True),
        ("localhost", False, False),  # a relay may run there
        ("localhost", True, True),  # but nobody reads mail for it
        ("mail.localhost", True, True),
        ("127.0.0.1", False, False),
        ("relay", False, False),
        ("smtp.examples.org", False, False),
        ("example.org.mail.acme.org", False, False),
    ],
)
def test_placeholder_hosts_are_the_reserved_names(
    host: str, for_mail: bool, reserved: bool
) -> None:
    from watcher.config import placeholder_host

    assert placeholder_host(host, localhost=for_mail) is reserved


def test_the_shipped_placeholders_warn_but_validate(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from watcher.cli import main

    config = tmp_path / "config.toml"
    config.write_text(
        (Path(__file__).parent.parent / "config.toml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["--config", str(config), "validate"])
    assert result.exit_code == 0 and result.stdout.startswith("ok: ")
    [line] = [line for line in result.stderr.splitlines() if "still hold" in line]
    assert line == (
        f"warning: {config}: channels.raters-email: smtp_host, from and to still hold "
        "placeholder values (smtp.example.org, watcher@example.org, raters@example.org); "
        "its alerts wait in the outbox until they are edited"
    )
    edited = config.read_text(encoding="utf-8").replace("smtp.example.org", "relay.internal")
    config.write_text(edited.replace("raters@example.org", "raters@localhost"), encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config), "validate"])
    assert result.exit_code == 0
    [line] = [line for line in result.stderr.splitlines() if "still hold" in line]
    assert "from and to still hold placeholder values" in line
    assert "(watcher@example.org, raters@localhost)" in line and "cannot be delivered" in line

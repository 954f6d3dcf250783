"""The lxml fingerprint: equal fingerprints must mean equal extracted text."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import Env, Site
from tests.test_pipeline import SECTIONS, html_source, page
from watcher import clock
from watcher.extract import extract, extract_if_changed
from watcher.extract.fingerprint import html_fingerprint
from watcher.models import ExtractRules

RULES = ExtractRules(select=("main",), remove=("nav", "footer", ".cookie-banner"))


def fp(html: str, rules: ExtractRules = RULES) -> str | None:
    return html_fingerprint(html.encode("utf-8"), "utf-8", rules)


def test_noise_keeps_the_fingerprint() -> None:
    base = fp(page())
    assert base is not None
    assert fp(page(token="other", stamp="2030-01-01 00:00")) == base


@pytest.mark.parametrize(
    "edited",
    [
        SECTIONS.replace("once a year", "twice a year"),
        SECTIONS.replace("<p>The board", "<p hidden>The board"),
        SECTIONS.replace("<li>Insider", '<li style="display:none">Insider'),
        SECTIONS.replace("<h2>3. Governance</h2>", "<h3>3. Governance</h3>"),
        SECTIONS + "<!-- a comment is not text -->" + "<p>new paragraph</p>",
    ],
)
def test_what_extraction_sees_changes_the_fingerprint(edited: str) -> None:
    assert fp(page(edited)) != fp(page())


def test_follow_links_count_even_outside_the_selection() -> None:
    rules = ExtractRules(select=("main",), follow="a[href$='.pdf']")
    one = page(SECTIONS + '<a href="/v1.pdf">PDF</a>')
    two = page(SECTIONS + '<a href="/v2.pdf">PDF</a>')
    assert fp(one, rules) != fp(two, rules)


def test_no_fingerprint_when_lxml_cannot_apply_the_rules() -> None:
    assert fp(page(), ExtractRules(select=('main:-soup-contains("policy")',))) is None
    assert fp(page(), ExtractRules(select=("article",))) is None  # matched nothing
    assert fp(page() + "<p>after the end</p>") is None  # BeautifulSoup keeps this, lxml not


def test_extract_if_changed_skips_only_on_an_equal_fingerprint() -> None:
    content = page().encode()
    kwargs = {"content_type": "text/html", "charset": "utf-8", "url": "http://x/", "rules": RULES}
    first, extracted = extract_if_changed(content, **kwargs)  # type: ignore[arg-type]
    assert first is not None and extracted is not None
    again, skipped = extract_if_changed(content, known_fingerprint=first, **kwargs)  # type: ignore[arg-type]
    assert again == first and skipped is None
    changed = page(SECTIONS.replace("board", "committee")).encode()
    _, redone = extract_if_changed(changed, known_fingerprint=first, **kwargs)  # type: ignore[arg-type]
    assert redone is not None and "committee" in redone.text


# Random pages built from pieces that extraction treats differently: equal
# fingerprints must never hide a different text.
PIECES = [
    "<p>alpha beta</p>",
    "<p>alpha  beta</p>",
    "<p>gamma</p>",
    "<h2>Heading</h2>",
    "<h3>Heading</h3>",
    "<ul><li>one</li><li>two</li></ul>",
    "<ul><li>one two</li></ul>",
    "<p hidden>secret</p>",
    '<p style="display:none">secret</p>',
    '<p aria-hidden="true">secret</p>',
    "<script>var t = 1;</script>",
    "<script>var t = 2;</script>",
    "<footer>time 1</footer>",
    "<footer>time 2</footer>",
    '<a href="/a">link</a>',
    '<a href="/b">link</a>',
    "<table><tr><td>a</td><td>b</td></tr></table>",
    "<div>a<br>b</div>",
    "<div>a b</div>",
    "<!-- c -->",
    "<span>in</span>line",
    "<nav>menu</nav>",
    "</main><p>stray</p><main>",
    "<body><p>second body</p>",
    "<p>unclosed",
    "</p></div>",
    "<main>nested main</main>",
    "caf\u00e9 \u00a0 na\u00efve",
    "<p>&nbsp;&amp;&lt;</p>",
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=8),
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=8),
)
def test_equal_fingerprints_mean_equal_text(a: list[str], b: list[str]) -> None:
    rules = ExtractRules(select=("main",), remove=("nav", "footer"))

    def build(parts: list[str]) -> bytes:
        page = f"<html><body><main><h1>T</h1>{''.join(parts[:-1])}</main></body></html>"
        return (page + parts[-1]).encode()  # the last piece lands after </html>

    def text(content: bytes) -> str:
        return extract(
            content, content_type="text/html", charset="utf-8", url="http://x/", rules=rules
        ).text

    fa = html_fingerprint(build(a), "utf-8", rules)
    fb = html_fingerprint(build(b), "utf-8", rules)
    if fa is not None and fa == fb:
        assert text(build(a)) == text(build(b))


def test_dynamic_page_skips_extraction_but_not_for_ever(
    env: Env, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.set("/rsp", page(token="a"))
    env.sources = [html_source(site)]
    env.check()
    first = env.store.source("acme-rsp")
    assert first is not None and first["fingerprint"]

    later = clock.now() + timedelta(hours=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    site.set("/rsp", page(token="b", stamp="later"))
    assert env.outcome(env.check(), "acme-rsp").outcome == "unchanged"
    row = env.store.source("acme-rsp")
    assert row is not None
    # skipped: the fingerprint's time is still that of the full extraction
    assert row["fingerprint_at"] == first["fingerprint_at"]
    assert row["last_raw_sha256"] != first["last_raw_sha256"]

    much_later = clock.now() + timedelta(days=2)
    monkeypatch.setattr(clock, "now", lambda: much_later)
    site.set("/rsp", page(token="c"))
    assert env.outcome(env.check(), "acme-rsp").outcome == "unchanged"
    row = env.store.source("acme-rsp")
    assert row is not None and row["fingerprint_at"] == clock.iso(much_later)

    site.set("/rsp", page(SECTIONS.replace("board", "committee"), token="d"))
    assert env.outcome(env.check(), "acme-rsp").outcome == "new_version"

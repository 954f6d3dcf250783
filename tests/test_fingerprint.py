"""The fingerprint of a page's tree: equal fingerprints must mean equal extracted text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import Env, Site
from tests.test_pipeline import SECTIONS, html_source, page
from watcher import clock
from watcher.errors import WatcherError
from watcher.extract import extract, process
from watcher.extract.html import extract_html
from watcher.models import ExtractRules

RULES = ExtractRules(select=("main",), remove=("nav", "footer", ".cookie-banner"))


def process_fingerprint(content: bytes, charset: str | None, rules: ExtractRules) -> str | None:
    """The fingerprint `process` makes on its one tree (None when extraction fails)."""
    try:
        done = process(
            content, content_type="text/html", charset=charset, url="http://x/", rules=rules
        )
    except WatcherError:
        return None
    return done.fingerprint


Fingerprint = Callable[[bytes, str | None, ExtractRules], str | None]


def fp(
    html: str, rules: ExtractRules = RULES, fingerprint: Fingerprint = process_fingerprint
) -> str | None:
    return fingerprint(html.encode("utf-8"), "utf-8", rules)


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


def test_text_after_the_end_of_the_page_counts() -> None:
    whole = ExtractRules()
    assert fp(page() + "<p>after the end</p>", whole) != fp(page() + "<p>other</p>", whole)


def test_a_select_that_matches_nothing_is_an_error_not_a_fingerprint() -> None:
    content = page().encode()
    with pytest.raises(WatcherError, match="select 'article' matched nothing"):
        process(
            content,
            content_type="text/html",
            charset="utf-8",
            url="http://x/",
            rules=ExtractRules(select=("article",)),
            known_fingerprint="anything",
        )


@pytest.mark.parametrize(
    "rules",
    [RULES, ExtractRules(select=("main:-soup-contains('Governance')",))],
    ids=["plain", "contains"],
)
def test_process_skips_extraction_only_on_an_equal_fingerprint(rules: ExtractRules) -> None:
    content = page().encode()
    kwargs = {"content_type": "text/html", "charset": "utf-8", "url": "http://x/", "rules": rules}
    first = process(content, **kwargs)  # type: ignore[arg-type]
    assert first.fingerprint is not None and first.extracted is not None
    again = process(content, known_fingerprint=first.fingerprint, **kwargs)  # type: ignore[arg-type]
    assert again.fingerprint == first.fingerprint and again.extracted is None
    changed = page(SECTIONS.replace("board", "committee")).encode()
    redone = process(changed, known_fingerprint=first.fingerprint, **kwargs)  # type: ignore[arg-type]
    assert redone.extracted is not None and "committee" in redone.extracted.text


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
    # inside <pre> every string counts but those of script, style and template
    "<pre>a<noscript>ns</noscript>b</pre>",
    "<pre>a<script>s</script>b</pre>",
    "<pre>a<!-- c -->b</pre>",
    "<pre>a<template>t</template>b</pre>",
    "<pre>a<svg><text>sv</text></svg>b</pre>",
    "<pre>a<button>bt</button>b</pre>",
    '<pre>a<span class="x">sp</span>b</pre>',
    "<template><p>tpl</p></template>",
    '<p class="n1">classes differ</p>',
    '<p class="n2">classes differ</p>',
]


def _random_page(parts: list[str]) -> bytes:
    page = f"<html><body><main><h1>T</h1>{''.join(parts[:-1])}</main></body></html>"
    return (page + parts[-1]).encode()  # the last piece lands after </html>


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=8),
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=8),
)
def test_equal_fingerprints_mean_equal_text(a: list[str], b: list[str]) -> None:
    rules = ExtractRules(select=("main",), remove=("nav", "footer"))

    def text(content: bytes) -> str:
        return extract(
            content, content_type="text/html", charset="utf-8", url="http://x/", rules=rules
        ).text

    fa = process_fingerprint(_random_page(a), "utf-8", rules)
    fb = process_fingerprint(_random_page(b), "utf-8", rules)
    if fa is not None and fa == fb:
        assert text(_random_page(a)) == text(_random_page(b))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=10),
    st.sampled_from(
        [
            ExtractRules(select=("main",), remove=("nav", "footer")),
            ExtractRules(),
            ExtractRules(select=("pre", "p"), follow="a"),
        ]
    ),
)
def test_process_extracts_what_extract_html_does(parts: list[str], rules: ExtractRules) -> None:
    """The fingerprint strips the tree before it is rendered: that must change no text."""
    content = _random_page(parts)
    kwargs = {"charset": "utf-8", "url": "http://x/", "rules": rules}
    try:
        reference = extract_html(content, **kwargs)  # type: ignore[arg-type]
    except WatcherError:
        return
    try:
        done = process(content, content_type="text/html", **kwargs)  # type: ignore[arg-type]
    except WatcherError as exc:  # a sanity check refused the text: so must extract()
        with pytest.raises(type(exc)):
            extract(content, content_type="text/html", **kwargs)  # type: ignore[arg-type]
        return
    assert done.extracted is not None
    assert done.extracted.text == reference.text
    assert done.extracted.links == reference.links


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

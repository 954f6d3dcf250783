"""Extraction: rendering, rules, noise, sanity checks, encodings, PDFs."""

from __future__ import annotations

import pickle
import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.pdfs import make_blank_pdf, make_pdf
from watcher.errors import ExtractionError, SuspiciousExtraction
from watcher.extract import extract, sniff_kind
from watcher.extract.normalise import (
    _TRANSLATION,
    _translate,
    collapse_whitespace,
    compile_ignore,
    normalise,
    normalise_counting,
)
from watcher.extract.pdf import Line, dehyphenate, drop_page_furniture, reflow
from watcher.models import Extracted, ExtractRules, Link

URL = "https://lab.example/policies/rsp"
LONG_PARAGRAPH = (
    "Before deploying a model we commit to run the evaluations described in this policy, and to "
    "publish a summary of the results together with our assessment of the findings of external "
    "auditors. The thresholds below are defined in advance; we will not lower them without a "
    "documented decision of the board and a public explanation of the reasons for the change."
)


def page(body: str, *, title: str = "Responsible Scaling Policy", head: str = "") -> bytes:
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title>{head}</head><body>{body}</body></html>"
    ).encode()


def html_text(body: str, **rules: object) -> str:
    return run(page(body), **rules).text


def run(
    content: bytes,
    *,
    content_type: str = "text/html",
    charset: str | None = "utf-8",
    url: str = URL,
    expected: str | None = None,
    previous_chars: int | None = None,
    **rules: object,
) -> Extracted:
    return extract(
        content,
        content_type=content_type,
        charset=charset,
        url=url,
        rules=ExtractRules(**rules),  # type: ignore[arg-type]
        expected=expected,  # type: ignore[arg-type]
        previous_chars=previous_chars,
    )


def legit_policy(paragraphs: int = 12, extra: str = "") -> str:
    """A long, real-looking policy body (well over the short-page thresholds)."""
    sections = "".join(
        f"<h2>{n}. Section {n}</h2><p>{LONG_PARAGRAPH}</p>" for n in range(1, paragraphs + 1)
    )
    return f"<main><h1>Responsible Scaling Policy</h1>{extra}{sections}</main>"


# ---------------------------------------------------------------- rendering

RENDERING = [
    ("headings", "<h1>Policy</h1><h2>Scope</h2><h3>Detail</h3><h6>Fine</h6>",
     "# Policy\n## Scope\n### Detail\n###### Fine"),
    ("heading with inline and br", "<h2>Part <em>one</em><br>Overview</h2>", "## Part one Overview"),
    ("paragraphs", "<p>First.</p><p>Second.</p>", "First.\nSecond."),
    ("inline spacing kept", "<p>We <b>commit</b> to <em>publish</em> results.</p>",
     "We commit to publish results."),
    ("whitespace between inline tags", "<p><span>alpha</span>\n  <span>beta</span></p>", "alpha beta"),
    ("no whitespace, no space", "<p><b>al</b><i>pha</i></p>", "alpha"),
    ("punctuation after inline", "<p>See <a href='/x'>the policy</a>, then <code>act</code>.</p>",
     "See the policy, then act."),
    ("links keep text not href", "<p>Read <a href='/rsp?session=abc123&utm_source=x'>our RSP</a></p>",
     "Read our RSP"),
    ("unordered list", "<ul><li>One</li><li>Two</li></ul>", "- One\n- Two"),
    ("ordered list", "<ol><li>First</li><li>Second</li></ol>", "- First\n- Second"),
    ("nested list", "<ul><li>One<ul><li>Inner</li></ul></li><li><p>Two</p></li></ul>",
     "- One\n- Inner\n- Two"),
    ("empty list item", "<ul><li></li><li>Two</li></ul><p>After</p>", "- Two\nAfter"),
    ("br", "<p>a<br>b<br/><br>c</p>", "a\nb\nc"),
    ("table", "<table><tr><th>Level</th><th>Threshold</th></tr>"
     "<tr><td>ASL-3</td><td></td><td>uplift<br>to experts</td></tr></table>",
     "Level | Threshold\nASL-3 | uplift to experts"),
    ("layout table keeps blocks", "<table><tr><td><h2>Title</h2><p>Body</p></td></tr></table>",
     "## Title\nBody"),
    ("pre", "<pre>x = 1\n    y = 2\n</pre>", "x = 1\ny = 2"),
    ("inline then block then inline", "<div>before<div>block</div>after</div>", "before\nblock\nafter"),
    ("blockquote and definitions", "<blockquote>Quoted</blockquote><dl><dt>Term</dt><dd>Meaning</dd></dl>",
     "Quoted\nTerm\nMeaning"),
    ("comments dropped", "<p>a<!-- hidden comment -->b</p>", "ab"),
    ("entities and nbsp", "<p>caf&eacute;&nbsp;&nbsp;au&#8239;lait</p>", "café au lait"),
    ("curly quotes kept", "<p>“we commit” – ‘not expect’</p>", "“we commit” – ‘not expect’"),
    ("images dropped", "<p>See <img alt='a chart' src='c.png'> here</p>", "See here"),
    ("hidden elements",
     "<p>Shown</p><p hidden>h</p><p aria-hidden='true'>a</p><p style='display: none'>d</p>"
     "<p style='color:red;VISIBILITY:hidden'>v</p><p aria-hidden='false'>Also shown</p>",
     "Shown\nAlso shown"),
    ("scripts, styles and other non-text",
     "<p>Text</p><script>var token = 'x';</script><style>p {}</style><noscript>nojs</noscript>"
     "<template><p>t</p></template><svg><text>s</text></svg><iframe src='/f'></iframe>"
     "<object>o</object><canvas>c</canvas>",
     "Text"),
    ("form controls", "<form><label>Email</label><input value='v'><select><option>opt</option></select>"
     "<textarea>ta</textarea><button>Send</button></form>", "Email"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "expected"), [case[1:] for case in RENDERING], ids=[c[0] for c in RENDERING]
)
def test_rendering(body: str, expected: str) -> None:
    assert html_text(body) == expected


def test_title_is_not_text_unless_selected() -> None:
    text = html_text("<p>Body text</p>")
    assert text == "Body text"
    assert "Responsible Scaling Policy" not in text


# ---------------------------------------------------------------- rules


def test_remove_then_select_in_document_order_without_nesting_twice() -> None:
    body = (
        "<nav>Menu</nav><div id='b'>B text</div><div id='a'>A text <p class='x'>inner</p></div>"
        "<div class='cookie-banner'>We use cookies</div><footer>Footer</footer>"
    )
    assert html_text(body, remove=("nav", "footer", ".cookie-banner")) == "B text\nA text\ninner"
    assert html_text(body, select=("#a", "#b")) == "B text\nA text\ninner"
    assert html_text(body, select=("#a", ".x")) == "A text\ninner"


def test_select_inside_removed_part_matches_nothing() -> None:
    with pytest.raises(SuspiciousExtraction, match="select 'main' matched nothing"):
        html_text("<div class='wrap'><main>Text</main></div>", remove=(".wrap",), select=("main",))


def test_select_matching_nothing_names_the_selectors_and_the_page() -> None:
    with pytest.raises(SuspiciousExtraction) as info:
        run(page("<p>Body</p>", title="Welcome"), select=("main", "article"))
    assert str(info.value) == "select 'main', 'article' matched nothing (page title: 'Welcome')"


@pytest.mark.parametrize("field", ["select", "remove"])
def test_invalid_selector_is_an_extraction_error(field: str) -> None:
    with pytest.raises(ExtractionError, match=r"^'div\[' is not a valid CSS selector: "):
        html_text("<p>Body</p>", **{field: ("main", "div[")})


SELECTOR_PAGE = (
    "<nav><a href='/n'>Menu</a></nav>"
    "<main id='content'><div>Direct</div><section><div>Nested</div></section></main>"
    "<article class='policy' role='main'><h2>Scope</h2><p>One</p><p class='ad'>Advert</p>"
    "<p lang='en-GB'>Two</p></article>"
    "<ul><li>a</li><li>b</li><li>c</li></ul>"
    "<div class='Cookie-Notice'>We use cookies</div><div data-kind='note'>Version 2.1</div>"
)
# What users write (soupsieve read all of these before): cssselect reads them the same.
SELECTORS = [
    ("main", "Direct\nNested"),
    ("article.policy", "## Scope\nOne\nAdvert\nTwo"),
    ("#content > div", "Direct"),
    ("[role=main] > p:not(.ad)", "One\nTwo"),
    ("li:nth-child(2n+1)", "- a\n- c"),
    ("li:first-child, li:last-child", "- a\n- c"),
    ("h2 + p", "One"),
    ("h2 ~ p:last-of-type", "Two"),
    ("[lang|=en]", "Two"),
    ("[class*='cookie' i]", "We use cookies"),
    ("[data-kind^=no][data-kind$=te]", "Version 2.1"),
    ("article:has(> h2) p:nth-of-type(1)", "One"),
    ("main :is(section, span) div", "Nested"),
    ("p:-soup-contains('Tw')", "Two"),
    ("p:contains('One')", "One"),
]


@pytest.mark.parametrize(("selector", "expected"), SELECTORS, ids=[s for s, _ in SELECTORS])
def test_selectors_users_write(selector: str, expected: str) -> None:
    assert html_text(SELECTOR_PAGE, select=(selector,)) == expected


def test_remove_keeps_the_text_around_what_it_removes() -> None:
    # a control character in the text beside it, which lxml's Python API refuses to join
    body = "<p>We <span class='x'>never</span>\x01commit <b>fully</b><i class='x'>no</i>.</p>"
    assert html_text(body, remove=(".x",)) == "We \x01commit fully."


def test_remove_of_the_whole_page() -> None:
    with pytest.raises(SuspiciousExtraction, match="no text extracted"):
        html_text("<p>Body</p>", remove=("html",))
    with pytest.raises(SuspiciousExtraction, match="select 'p' matched nothing"):
        html_text("<p>Body</p>", remove=("*",), select=("p",))


def test_template_content_is_never_selected_or_followed() -> None:
    body = "<template><main>Hidden <a href='/t.pdf'>t</a></main></template><main>Shown</main>"
    result = run(page(body), select=("main",), follow="a")
    assert (result.text, result.links) == ("Shown", ())


def test_follow_resolves_dedupes_and_keeps_http_only() -> None:
    body = """
    <nav><a class="doc" href="/nav.pdf">In the nav</a></nav>
    <main>
      <a class="doc" href="rsp-v2.pdf#page=3">RSP <b>v2</b></a>
      <a class="doc" href="rsp-v2.pdf">duplicate</a>
      <a class="doc" href="  https://cdn.example/files/v1.pdf  ">v1</a>
      <a class="doc" href="mailto:policy@lab.example">mail</a>
      <a class="doc" href="javascript:void(0)">js</a>
      <a class="doc" href="#top">top</a>
      <li class="doc"><a href="//cdn.example/v3.pdf" aria-label="Version 3"></a></li>
    </main>"""
    result = run(page(body), follow=".doc", remove=("nav",), select=("main",))
    assert result.links == (
        Link("https://lab.example/nav.pdf", "In the nav"),  # follow sees the page before `remove`
        Link("https://lab.example/policies/rsp-v2.pdf", "RSP v2"),
        Link("https://cdn.example/files/v1.pdf", "v1"),
        Link("https://lab.example/policies/rsp", "top"),
        Link("https://cdn.example/v3.pdf", "Version 3"),
    )
    assert "In the nav" not in result.text


def test_follow_uses_base_href() -> None:
    content = page("<a href='v2.pdf'>v2</a>", head="<base href='https://static.example/docs/'>")
    assert run(content, follow="a").links == (Link("https://static.example/docs/v2.pdf", "v2"),)


# ---------------------------------------------------------------- noise makes no difference


def _noise_pair(variant: str) -> tuple[bytes, bytes, dict[str, tuple[str, ...]]]:
    policy = legit_policy(4)
    if variant == "inline script token":
        return (
            page(policy + "<script>window.__TOKEN='a1b2c3'</script>"),
            page(policy + "<script>window.__TOKEN='z9y8x7'</script>"),
            {},
        )
    if variant == "cookie banner removed":
        return (
            page("<div class='cookie-banner'>We use cookies. <a href='?c=1'>OK</a></div>" + policy),
            page(policy + "<div class='cookie-banner'>Cookies help us (v2). Accept?</div>"),
            {"remove": (".cookie-banner",)},
        )
    if variant == "whitespace and nbsp":
        loose = policy.replace(" ", "&nbsp; \n\t").replace("<p>", "<p>\n   \u200b")
        return page(policy), page(loose), {}
    if variant == "last updated line ignored":
        return (
            page("<p>Last updated 3 March 2025</p>" + policy),
            page("<p>Last updated  14 May 2025 </p>" + policy),
            {"ignore": ("^Last updated .*$",)},
        )
    if variant == "tracking parameters in links":
        return (
            page(f"<p><a href='/rsp?sid=1&utm=a'>Our policy</a></p>{policy}"),
            page(f"<p><a href='/rsp?sid=99&utm=b'>Our policy</a></p>{policy}"),
            {},
        )
    raise AssertionError(variant)


@pytest.mark.parametrize(
    "variant",
    [
        "inline script token",
        "cookie banner removed",
        "whitespace and nbsp",
        "last updated line ignored",
        "tracking parameters in links",
    ],
)
def test_noise_only_differences_give_identical_text(variant: str) -> None:
    first, second, rules = _noise_pair(variant)
    assert first != second
    text = run(first, **rules).text
    assert text == run(second, **rules).text
    assert "# Responsible Scaling Policy" in text


def test_a_real_change_is_not_noise() -> None:
    before = run(page(legit_policy(3))).text
    after = run(page(legit_policy(3).replace("we commit to run", "we expect to run", 1))).text
    assert before != after


# ---------------------------------------------------------------- normalise

NORMALISE = [
    ("nfc", "cafe\u0301", "café"),
    ("nbsp and narrow nbsp", "a\u00a0b\u202fc\u2009d", "a b c d"),
    ("zero width and bom", "\ufeffco\u200bmmit\u200d\u2060", "commit"),
    ("soft hyphen", "respon\u00adsible", "responsible"),
    ("collapse and strip", "  a \t  b  \n\n   \n c  ", "a b\nc"),
    ("crlf and unicode line separators", "a\r\nb\rc\u2028d", "a\nb\nc\nd"),
    ("curly quotes kept", "“we commit” — ‘fully’", "“we commit” — ‘fully’"),
]


@pytest.mark.parametrize(
    ("raw", "expected"), [c[1:] for c in NORMALISE], ids=[c[0] for c in NORMALISE]
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected
    assert normalise(expected) == expected  # idempotent


@given(st.text(alphabet=st.sampled_from("ab \n\u00a0\u2009\u200b\u00ad\ufeff\t\u3000é")))
def test_special_spaces_and_invisibles_are_replaced_as_the_table_says(text: str) -> None:
    assert _translate(text) == text.translate(_TRANSLATION)


# Every character str.split() or str.splitlines() treats as whitespace or a
# line break, the ones _translate changes, and a few that are content.
_WHITESPACE_ALPHABET = (
    "ab \n\r\t\x0b\x0c\x1c\x1d\x1e\x1f\x85\u00a0\u2009\u200b\u00ad\u2028\u2029\u3000é"
)


_ODD_PIECES = [*_WHITESPACE_ALPHABET, "  ", "\n\n", " \n", "\n ", "\r\n"]
_CLEAN_TEXT = st.lists(
    st.lists(st.sampled_from(["a", "b", "é", "cafe\u0301", "ab"]), min_size=1).map(" ".join),
    min_size=1,
).map("\n".join)


@st.composite
def _nearly_clean(draw: st.DrawFn) -> str:
    """Clean text with one odd piece in it: the texts the shortcut must tell apart."""
    text = draw(_CLEAN_TEXT)
    odd = draw(st.sampled_from(_ODD_PIECES))
    at = draw(st.integers(0, len(text)))
    return text[:at] + odd + text[at:]


def _normalised_by_definition(text: str, ignore: tuple[str, ...]) -> str:
    plain = unicodedata.normalize("NFC", text).translate(_TRANSLATION)
    lines = (" ".join(raw.split()) for raw in unicodedata.normalize("NFC", plain).splitlines())
    patterns = [re.compile(pattern) for pattern in ignore]
    return "\n".join(line for line in lines if line and not any(p.search(line) for p in patterns))


@pytest.mark.parametrize("odd", _ODD_PIECES)
def test_normalise_tells_clean_text_from_text_with_one_odd_piece(odd: str) -> None:
    for text in (
        odd + "ab c",
        "ab" + odd + "c",
        "ab c" + odd,
        "é" + odd + "b",
        "cafe" + odd + "\u0301",
    ):
        expected = _normalised_by_definition(text, ())
        assert normalise_counting(text) == (expected, len(expected.split()))


@given(
    st.one_of(
        st.text(alphabet=st.sampled_from(_WHITESPACE_ALPHABET)), _CLEAN_TEXT, _nearly_clean()
    ),
    st.sampled_from([(), ("^a$",), ("b b",)]),
)
def test_normalise_is_its_definition_line_by_line(text: str, ignore: tuple[str, ...]) -> None:
    """The shortcut for text that is already clean changes nothing: the result
    is always what the definition, applied to every line, makes of the text,
    and normalising it again changes nothing (an invisible between a letter
    and its accent once left a pair NFC composes on the second pass)."""
    expected = _normalised_by_definition(text, ignore)
    assert normalise_counting(text, ignore) == (expected, len(expected.split()))
    assert normalise(expected, ignore) == expected


@given(st.one_of(st.text(alphabet=st.sampled_from(_WHITESPACE_ALPHABET)), _nearly_clean()))
def test_collapse_whitespace_is_split_and_join(text: str) -> None:
    assert collapse_whitespace(text) == " ".join(text.split())


@pytest.mark.parametrize("odd", _ODD_PIECES)
def test_collapse_whitespace_finds_every_odd_piece(odd: str) -> None:
    for text in (odd + "ab c", "ab" + odd + "c", "ab c" + odd):
        assert collapse_whitespace(text) == " ".join(text.split())


def test_every_extractor_counts_words_as_split_does() -> None:
    results = [
        run(page(f"<h1>Policy</h1><p>{LONG_PARAGRAPH}</p><ul><li>a\u00a0b</li></ul>")),
        run(page(f"<p>{LONG_PARAGRAPH}</p><p>Updated 3 May</p>"), ignore=["^Updated"]),
        run_pdf(make_pdf(PDF_PAGES, page_numbers=True)),
        run(f"{LONG_PARAGRAPH}\n\n  indented\tline ".encode(), content_type="text/plain"),
    ]
    for result in results:
        assert result.words == len(result.text.split()) > 3
    # Built without a count, it is counted.
    assert Extracted(text="a  b\n c", kind="text").words == 3


def test_normalise_ignore_matches_after_whitespace_normalisation() -> None:
    text = "Policy\nLast\u00a0updated   3 May 2025\nPage 3 of 9\nBody"
    assert normalise(text, ["^Last updated .*$", r"^Page \d+ of \d+$"]) == "Policy\nBody"


def test_ignore_patterns_are_compiled_once_and_validated() -> None:
    assert compile_ignore(("^a$", "b")) is compile_ignore(("^a$", "b"))
    with pytest.raises(ExtractionError, match="invalid ignore pattern '\\(unclosed'"):
        normalise("x", ["(unclosed"])


# ---------------------------------------------------------------- sanity checks

SUSPICIOUS = [
    ("empty page", page(""), "no text extracted"),
    ("page not found", page("<h1>Page not found</h1><p>Go back home.</p>", title="Page not found"),
     "error page"),
    ("next.js 404", page("<h1>404</h1><h2>This page could not be found.</h2>", title="404"), "error page"),
    ("meta style", page("<p>This page isn't available</p><p>The link may be broken.</p>", title="Meta"),
     "error page"),
    ("sorry", page("<p>Sorry, we couldn’t find that page. Try searching.</p>", title="Lab"), "error page"),
    ("access denied", page("<h1>Access Denied</h1><p>You don't have permission.</p>", title="x"),
     "error page"),
    ("server error", page("<h1>Internal Server Error</h1>", title="Error"), "error page"),
    ("cloudflare just a moment",
     page("<p>Checking if the site connection is secure</p>",
          title="Just a moment...", head="<script>window._cf_chl_opt={cvId:'3'}</script>"),
     "bot challenge"),
    ("cloudflare attention required", page("<p>Sorry, you have been blocked</p>",
                                           title="Attention Required! | Cloudflare"), "bot challenge"),
    ("checking your browser", page("<p>Checking your browser before accessing lab.example.</p>",
                                   title="Lab"), "bot challenge"),
    ("verify human", page("<p>Verify you are human by completing the action below.</p>", title="Lab"),
     "bot challenge"),
    ("incapsula", b"<html><head><META NAME='robots' CONTENT='noindex'></head><body><iframe "
     b"src='/_Incapsula_Resource?CWUDNSAI=9'>Request unsuccessful. Incapsula incident ID: 1-2</iframe>"
     b"</body></html>", "bot challenge"),
    ("perimeterx", page("<h1>Access to this page has been denied</h1><div id='px-captcha'></div>",
                        title="Access to this page has been denied"), "bot challenge"),
    ("short captcha page", page("<p>Please solve the CAPTCHA to continue.</p>", title="Lab"),
     "bot challenge"),
    ("react shell", page("<noscript>You need to enable JavaScript to run this app.</noscript>"
                         "<div id='root'></div>", title="Lab"), "JavaScript required"),
    ("next shell", page("<div id=\"__next\"></div><script src='/_next/app.js'></script>", title="Lab"),
     "JavaScript required"),
    ("javascript is required text", page("<p>JavaScript is required to view this page.</p>", title="Lab"),
     "JavaScript required"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "reason"), [c[1:] for c in SUSPICIOUS], ids=[c[0] for c in SUSPICIOUS]
)
def test_suspicious_pages_are_flagged_with_a_reason(content: bytes, reason: str) -> None:
    with pytest.raises(SuspiciousExtraction, match=reason) as info:
        run(content)
    assert "\n" not in str(info.value)


def test_challenge_title_wins_over_a_select_that_matches_nothing() -> None:
    content = page("<p>One moment</p>", title="Just a moment...")
    with pytest.raises(SuspiciousExtraction, match="bot challenge"):
        run(content, select=("main",))


@pytest.mark.parametrize(
    "extra",
    [
        "<p>If a document is not found, the page not found error is logged; 404 responses are retried.</p>",
        "<p>Sorry, we couldn't find that page is what our site says for broken links.</p>",
        "<script src='/cdn-cgi/challenge-platform/scripts/jsd/main.js'></script>"
        "<noscript>Please enable JavaScript</noscript><div class='g-recaptcha'></div>",
    ],
    ids=["mentions not found", "quotes an error message", "cloudflare script and captcha widget"],
)
def test_long_legit_page_is_not_flagged(extra: str) -> None:
    result = run(page(legit_policy(extra=extra)))
    assert result.words > 500


def test_small_selected_element_on_a_page_with_challenge_scripts_is_not_flagged() -> None:
    # Watching just a version label: Cloudflare's script and a <noscript> note are on every page.
    content = page(
        "<noscript>Please enable JavaScript</noscript><div class='g-recaptcha'></div>"
        "<script src='/cdn-cgi/challenge-platform/scripts/jsd/main.js'></script>"
        + legit_policy(extra="<p class='version'>Version 1.0</p>")
    )
    assert run(content, select=(".version",)).text == "Version 1.0"
    # Without the selection, the same markers on a page left without text do count.
    with pytest.raises(SuspiciousExtraction, match=r"bot challenge .*'challenge-platform'"):
        run(content, remove=("main",))


def test_text_collapse_against_previous_version() -> None:
    content = " ".join(["policy"] * 400).encode()  # 2,799 characters, 400 words
    with pytest.raises(SuspiciousExtraction) as info:
        run(content, content_type="text/plain", previous_chars=20_480)
    assert str(info.value) == "text collapsed to 2,799 characters from 20,480 (under 20%)"
    assert run(content, content_type="text/plain", previous_chars=8_000).chars == 2_799
    assert run(b"short", content_type="text/plain", previous_chars=199).text == "short"
    # A short text is never "collapsed": the pipeline holds it as `suspect` until
    # the next check sees it again, so a real cut still becomes a version.
    assert run(b"a" * 812, content_type="text/plain", previous_chars=10_240).chars == 812


# ---------------------------------------------------------------- encodings and malformed input


@pytest.mark.parametrize(
    ("content", "charset", "expected"),
    [
        ("<p>Café “policy”</p>".encode("cp1252"), "windows-1252", "Café “policy”"),
        ("<meta charset='windows-1252'><p>Café “policy”</p>".encode("cp1252"), None, "Café “policy”"),
        (
            "<meta http-equiv='Content-Type' content='text/html; charset=iso-8859-1'><p>“x” é</p>".encode(
                "cp1252"
            ),
            None,
            "“x” é",
        ),
        ("<p>Café “policy”</p>".encode("cp1252"), "utf-8", "Café “policy”"),  # mislabelled
        ("<p>Café “policy” — ünïcode</p>".encode(), None, "Café “policy” — ünïcode"),
        ("<p>Café</p>".encode("utf-8-sig"), None, "Café"),
        ("<p>Café</p>".encode(), "utf8mb4-bogus", "Café"),
        ("<meta charset='utf-16'><p>Café</p>".encode(), None, "Café"),
        (b"<p>Caf\xc3\xa9 \xff\xfe broken</p>", "utf-8", None),  # undecodable: must not raise
    ],
    ids=["header", "meta", "http-equiv latin-1", "mislabelled", "no charset", "bom", "bogus", "utf-16 meta",
         "invalid bytes"],
)  # fmt: skip
def test_encodings(content: bytes, charset: str | None, expected: str | None) -> None:
    text = run(b"<html><body>" + content + b"</body></html>", charset=charset).text
    if expected is not None:
        assert text == expected
    else:
        assert "broken" in text


@pytest.mark.parametrize(
    "content",
    [
        '<?xml version="1.0" encoding="iso-8859-1"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
        "<body><p>Café “policy”</p></body></html>".encode("cp1252"),
        "<html><body><p>Café “policy”</p></body></html>".encode("utf-16"),
    ],
    ids=["xhtml with xml declaration", "utf-16 with bom"],
)
def test_whole_document_encodings(content: bytes) -> None:
    assert run(content, content_type="application/xhtml+xml", charset=None).text == "Café “policy”"


def test_plain_text_lines_and_charset() -> None:
    content = "Line one\r\n\r\n  Café  line   two \n".encode("latin-1")
    result = run(content, content_type="text/plain", charset="iso-8859-1")
    assert (result.kind, result.text) == ("text", "Line one\nCafé line two")


def test_binary_body_is_an_extraction_error() -> None:
    with pytest.raises(ExtractionError, match="not a text document"):
        run(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", content_type="image/png")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"<p>one<p>two<div><b>bold</div>three", "one\ntwo\nbold\nthree"),
        (b"<html><body><p>before</html><p>after</body>", "before\nafter"),
        (b"<html><body><p>end</p></body></html>\n<div>footer</div>", "end\nfooter"),
        (b"<html><body><h2>Title </html>continued", "## Title continued"),
        (b"<ul><li>a<li>b</ul></ul></div><table><td>c<td>d</table>", "- a\n- b\nc\nd"),
        (b"<p>nul\x00byte <<>> & stray</p>", "nulbyte <<>> & stray"),
        (b"<div>" * 3000 + b"deep" + b"</div>" * 3000, "deep"),
    ],
    ids=[
        "unclosed",
        "content after html end",
        "block after html end",
        "text after html end joins the open element",
        "broken lists and tables",
        "nul and brackets",
        "deep",
    ],
)
def test_malformed_html_does_not_raise(content: bytes, expected: str) -> None:
    assert run(content).text.replace("\ufffd", "") == expected


def test_large_page_extracts_whole() -> None:
    sections = "".join(
        f"<section><div class='wrap'><h2>Section {n}</h2><p>{LONG_PARAGRAPH} <a href='/x{n}?utm=1'>"
        f"more</a></p><ul><li>first point {n}</li><li>second point {n}</li></ul></div></section>"
        for n in range(550)
    )
    content = page(
        "<nav>" + "<a href='/n'>Nav</a>" * 100 + "</nav><main>" + sections + "</main>",
        head="<script>var x=" + "1," * 10_000 + "0;</script>",
    )
    assert len(content) > 300_000
    rules = {"select": ("main",), "remove": ("nav",), "follow": "a[href$='.pdf']"}
    # speed is measured in bench/, not asserted here; this checks a real-sized page works
    result = run(content, **rules)
    assert result.words > 30_000
    assert "Nav" not in result.text and "Section 549" in result.text


# ---------------------------------------------------------------- sniffing

SNIFF = [
    (b"%PDF-1.7\n...", "application/pdf", "https://x/a.pdf", "pdf"),
    (
        b"%PDF-1.4\n...",
        "application/octet-stream",
        "https://ai.meta.com/static-resource/framework/",
        "pdf",
    ),
    (b"\xef\xbb\xbf \r\n%PDF-1.5", "", "https://x/doc", "pdf"),
    (b"\n\n%PDF-1.5", "text/html", "https://x/doc", "pdf"),
    (b"garbage line\n%PDF-1.5", "application/pdf", "https://x/doc", "pdf"),
    (b"garbage line\n%PDF-1.5", "text/plain", "https://x/doc", "text"),
    (b"<!DOCTYPE html><html>", "application/pdf", "https://x/a.pdf", "html"),
    (b"  <HTML><body>x", "text/plain", "https://x/a.txt", "html"),
    (
        b"<?xml version='1.0'?>\n<html xmlns='http://www.w3.org/1999/xhtml'>",
        "",
        "https://x/",
        "html",
    ),
    (b"<!-- c -->\n<head><title>t</title>", "", "https://x/", "html"),
    (b"plain words", "text/html", "https://x/", "html"),
    (b"plain words", "text/plain", "https://x/", "text"),
    (b"plain words", "", "https://x/", "text"),
]


@pytest.mark.parametrize(("content", "content_type", "url", "kind"), SNIFF)
def test_sniff_kind(content: bytes, content_type: str, url: str, kind: str) -> None:
    assert sniff_kind(content, content_type, url) == kind


def test_placeholder_served_as_pdf() -> None:
    with pytest.raises(SuspiciousExtraction) as info:
        run(b"Document not available", content_type="application/pdf", url="https://x/a.pdf")
    assert str(info.value) == "served as application/pdf but is not a PDF (22 bytes)"


def test_html_where_a_pdf_was_expected() -> None:
    content = page(legit_policy(), title="Frontier Safety Framework")
    with pytest.raises(
        SuspiciousExtraction, match=r"^expected a PDF but got text/html \(.*Frontier"
    ):
        run(content, url="https://x/framework.pdf", expected="pdf")


# ---------------------------------------------------------------- PDF

PARAGRAPH_B = "Short second paragraph. It ends here."
BULLET = "Cyber operations: meaningful uplift to a novice attacker against critical infrastructure targets"
PDF_PAGES = [
    ["# Capability Thresholds", LONG_PARAGRAPH, PARAGRAPH_B, "- " + BULLET, "- CBRN weapons"],
    ["# Safeguards", "Deployment safeguards apply to every model at or above the threshold."],
    ["# Governance", LONG_PARAGRAPH],
]
PDF_TEXT = "\n".join(
    [
        "# Capability Thresholds",
        LONG_PARAGRAPH,
        PARAGRAPH_B,
        "- " + BULLET,
        "- CBRN weapons",
        "# Safeguards",
        "Deployment safeguards apply to every model at or above the threshold.",
        "# Governance",
        LONG_PARAGRAPH,
    ]
)


def run_pdf(content: bytes, **rules: object) -> Extracted:
    return run(
        content, content_type="application/pdf", charset=None, url="https://x/rsp.pdf", **rules
    )


def test_pdf_round_trip_with_headings_bullets_and_pages() -> None:
    result = run_pdf(make_pdf(PDF_PAGES, page_numbers=True))
    assert (result.kind, result.pages) == ("pdf", 3)
    assert result.text == PDF_TEXT


@pytest.mark.parametrize("width", [0, 140, 90, 60])
def test_pdf_rewrapped_at_another_width_gives_the_same_text(width: int) -> None:
    assert run_pdf(make_pdf(PDF_PAGES, width=width)).text == PDF_TEXT


def test_pdf_paragraphs_flowing_over_pages_rewrap_identically() -> None:
    words = LONG_PARAGRAPH.split()
    # Paragraphs of 5 to 59 words, so that last lines end anywhere on the line.
    paragraphs = [" ".join(words[: 5 + (n * 23) % 55]).rstrip(",;") + "." for n in range(16)]
    texts = {width: run_pdf(make_pdf([paragraphs], width=width)).text for width in (0, 120, 90, 70)}
    assert run_pdf(make_pdf([paragraphs], width=70)).pages == 2  # flows over a page break
    assert set(texts.values()) == {"\n".join(paragraphs)}


def test_pdf_running_header_dropped_and_ignore_applies() -> None:
    pages = [*PDF_PAGES, ["Last updated 14 May 2025", "Final remarks."]]
    result = run_pdf(
        make_pdf(pages, header="Acme AI - Responsible Scaling Policy v2.2"),
        ignore=("^Last updated",),
    )
    assert "Acme AI" not in result.text
    assert result.text == PDF_TEXT + "\nFinal remarks."


def test_pdf_line_end_hyphens() -> None:
    text = "We make a long-term commit-\nment to third-\nparty audits of AI-\nEnabled systems in 2024-\n2025."
    result = run_pdf(make_pdf([[text]]))
    assert (
        result.text
        == "We make a long-term commitment to third-party audits of AI-Enabled systems in 2024-2025."
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a commit\ufffement", "a commitment"),
        ("third\ufffeparty risk", "third-party risk"),
        ("AI\ufffeEnabled", "AI-Enabled"),
        ("the pre\ufffedeployment tests; predeployment", "the predeployment tests; predeployment"),
        ("non\ufffepublic data and non-public weights", "non-public data and non-public weights"),
        ("evalu\ufffeations", "evaluations"),
        ("stray\ufffe", "stray-"),
    ],
)
def test_dehyphenate(text: str, expected: str) -> None:
    assert dehyphenate(text) == expected


def test_reflow_without_geometry_and_lone_bullet_glyph() -> None:
    lines = [
        Line("We commit to the following", 0),
        Line("safeguards:", 0),
        Line("•", 0),
        Line("Access controls", 0),
        Line("(a) Second item;", 0),
        Line("The end.", 0),
    ]
    assert reflow(lines) == [
        "We commit to the following safeguards:",
        "- Access controls",
        "(a) Second item;",
        "The end.",
    ]


@pytest.mark.parametrize(
    ("text", "item"),
    [
        ("- dash", True), ("* star", True), ("• bullet", True), ("\uf0b7 symbol-font bullet", True),
        ("1. one", True), ("12) twelve", True), ("(3) three", True), ("(B) bee", True),
        ("b) bee", True), ("iv. four", True), ("2.1 section", True), ("\u0663. Arabic-Indic three", True),
        ("\u0663\u0662) Arabic-Indic thirty-two", True),
        ("continued text", False), ("Capitalised text", False), ("civil. not roman", False),
        ("2024 was a year", False), ("(parenthetical remark", False), ("B) capital", False),
    ],
)  # fmt: skip
def test_reflow_starts_a_block_at_every_list_item(text: str, item: bool) -> None:
    """Without geometry, a line continues unless the one before ends a sentence
    or the line is a list item."""
    blocks = reflow([Line("We commit to the following", 0), Line(text, 0)])
    assert len(blocks) == (2 if item else 1)


def test_pdf_page_with_much_text_between_small_pages() -> None:
    """A page of ~50,000 characters, and the small pages on either side, come out whole."""
    from watcher.extract.pdf import read_lines

    words = LONG_PARAGRAPH.split()
    huge = " ".join(f"{words[n % len(words)]}{n}" for n in range(6000))
    pages, lines = read_lines(make_pdf([["First page."], [huge], ["Last page."]], font_size=3))
    assert pages == 3
    assert (lines[0].text, lines[0].page) == ("First page.", 0)
    assert (lines[-1].text, lines[-1].page) == ("Last page.", 2)
    middle = " ".join(line.text for line in lines if line.page == 1)
    assert middle.split() == huge.split()
    assert all(line.right is not None and line.size for line in lines)  # geometry read


def test_reflow_geometry() -> None:
    """A line continues the paragraph only when its first word would not have fitted
    on the line before; a paragraph gap or a change of font size always breaks."""

    def line(text: str, right: float, first_word: float, baseline: float, size: float = 10) -> Line:
        return Line(
            text, 0, right=right, first_word=first_word, size=size, left=50, baseline=baseline
        )

    lines = [
        line("Heading", 120, 60, 800, size=16),
        line("A paragraph that wraps", 448, 20, 780),  # margin ~450: next word (20) cannot fit
        line("onto a second line and", 449, 30, 766),  # next word (30) cannot fit either
        line("ends nearly full.", 400, 40, 752),  # 50 left, 40 + a space would fit: ends here
        line("Next paragraph starts", 447, 25, 738),
        line("and its last line is", 446, 60, 724),  # full, but a paragraph gap follows
        line("Separate paragraph after a gap,", 448, 30, 700),
        line("short line.", 200, 30, 686),
        *[line(f"filler line number {n} with words", 450, 30, 600 - 14 * n) for n in range(4)],
    ]
    assert reflow(lines)[:5] == [
        "Heading",
        "A paragraph that wraps onto a second line and ends nearly full.",
        "Next paragraph starts and its last line is",
        "Separate paragraph after a gap, short line.",
        "filler line number 0 with words filler line number 1 with words "
        "filler line number 2 with words filler line number 3 with words",
    ]


def test_page_furniture_only_at_page_edges() -> None:
    pages = [
        ["Acme - Policy v2 (draft 3)", "Body one", "12", "middle", "Body two", "Page 3 of 9"],
        ["Acme - Policy v2 (draft 4)", "Body three", "Body four", "civil", "iv"],
        ["Acme - Policy v2 (draft 5)", "Body five", "Body six", "- 7 -"],
    ]
    lines = [Line(text, number) for number, texts in enumerate(pages) for text in texts]
    assert [line.text for line in drop_page_furniture(lines)] == [
        "Body one", "12", "middle", "Body two", "Body three", "Body four", "civil", "Body five", "Body six",
    ]  # fmt: skip


def test_encrypted_pdf() -> None:
    content = make_pdf([["secret text"]], user_password="hunter2")
    with pytest.raises(ExtractionError, match=r"^encrypted PDF") as info:
        run_pdf(content)
    assert not isinstance(info.value, SuspiciousExtraction)


@pytest.mark.parametrize(
    "content",
    [
        make_pdf(PDF_PAGES)[:400],
        b"%PDF-1.7\n" + b"\x00garbage\xff" * 50,
        b"%PDF-",
    ],
    ids=["truncated", "garbage", "header only"],
)
def test_corrupt_pdf(content: bytes) -> None:
    with pytest.raises(ExtractionError, match=r"^corrupt PDF: "):
        run_pdf(content)


def test_pdf_without_text_layer() -> None:
    with pytest.raises(SuspiciousExtraction, match=r"^PDF has no text layer \(2 pages\)$"):
        run_pdf(make_blank_pdf(2))


def test_results_and_errors_cross_process_boundaries() -> None:
    result = run_pdf(make_pdf(PDF_PAGES))
    assert pickle.loads(pickle.dumps(result)) == result
    assert pickle.loads(pickle.dumps(extract)) is extract
    error = pickle.loads(pickle.dumps(SuspiciousExtraction("no text extracted")))
    assert isinstance(error, SuspiciousExtraction)
    assert error.reason == "no text extracted"

"""Blob codec (zstd, zstd against the version's text, old zlib) and raw snapshots."""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Env, Site
from watcher.errors import StorageError, StoreError, WatcherError
from watcher.extract import extract, process
from watcher.extract.fingerprint import roots_fingerprint
from watcher.extract.html import decode_markup, parse, prepare
from watcher.extract.snapshot import (
    bodies_of,
    cut_bodies,
    cut_bodies_text,
    empty_bodies,
    snapshot,
    strip_bodies,
    strip_bodies_text,
)
from watcher.models import ExtractRules
from watcher.store import (
    DB_NAME,
    MIGRATIONS,
    SCHEMA_VERSION,
    ZSTD_MIN_PREFIX,
    ZSTD_TEXT_PREFIX,
    Store,
    sha256,
)

WORDS = [
    "model",
    "capability",
    "threshold",
    "safeguard",
    "evaluation",
    "deployment",
    "security",
    "risk",
    "frontier",
    "policy",
    "board",
    "notify",
    "commit",
    "review",
    "weights",
    "access",
    "red",
    "team",
    "uplift",
]


def realistic_page(seed: int = 1) -> tuple[bytes, bytes]:
    """(a modern policy page: framework script, JSON copy, CSS, article; its text)."""
    rng = random.Random(seed)
    # a real page's vocabulary: thousands of words, a few of them frequent
    vocabulary = WORDS + [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 11)))
        for _ in range(3000)
    ]
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]

    def words(count: int) -> str:
        return " ".join(rng.choices(vocabulary, weights, k=count))

    paragraphs = [words(rng.randint(30, 80)).capitalize() + "." for _ in range(120)]
    article = "".join(f"<h2>Section {i}</h2><p>{p}</p>" for i, p in enumerate(paragraphs))
    script = "".join(
        f"function f{i}(a,b){{return a.{rng.choice(WORDS)}+b[{rng.randint(0, 99)}]}};"
        for i in range(3000)
    )
    data = json.dumps({"props": {"body": paragraphs}}).replace("</", "<\\/")
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Policy</title>'
        f"<style>.a{{color:red}}{'.x{margin:0}' * 500}</style>"
        f"<script>{script}</script>"
        f'<script id="__NEXT_DATA__" type="application/json">{data}</script>'
        f"</head><body><main><article>{article}</article></main></body></html>"
    ).encode()
    text = extract(page, content_type="text/html", charset=None, url="https://x/", rules=NO_RULES)
    return page, text.text.encode()


NO_RULES = ExtractRules()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path) as opened:
        yield opened


# --- blob codec ---------------------------------------------------------------


@pytest.mark.parametrize(
    "data", [b"", b"x", b"hello world " * 1000, bytes(range(256)) * 50], ids=len
)
def test_zstd_round_trip(store: Store, data: bytes) -> None:
    digest = store.put_blob(data)
    assert digest == sha256(data)
    assert store.get_blob(digest) == data
    row = store._one("SELECT encoding, size FROM blobs WHERE sha256 = ?", (digest,))
    assert row == {"encoding": "zstd", "size": len(data)}


@pytest.mark.parametrize("encoding", ["zlib", "raw"])
def test_blobs_written_before_zstd_still_read(store: Store, encoding: str) -> None:
    data = b"<html>an old snapshot</html>" * 100
    packed = zlib.compress(data, 6) if encoding == "zlib" else data
    store._insert(
        "blobs", {"sha256": sha256(data), "encoding": encoding, "size": len(data), "data": packed}
    )
    assert store.get_blob(sha256(data)) == data
    # storing the same bytes again leaves the old row alone
    assert store.put_blob(data) == sha256(data)
    assert store._one("SELECT encoding FROM blobs") == {"encoding": encoding}


def test_raw_compressed_against_its_text_reads_back_exactly(store: Store) -> None:
    page, text = realistic_page()
    digest = store.put_blob(page, prefix=text)
    row = store._one("SELECT encoding FROM blobs WHERE sha256 = ?", (digest,))
    assert row == {"encoding": ZSTD_TEXT_PREFIX + sha256(text)}
    assert store.get_blob(sha256(text)) == text  # the dictionary is stored too
    assert store.get_blob(digest) == page
    # already stored: a no-op, whatever the prefix
    assert store.put_blob(page) == digest
    assert store.get_blob(digest) == page


@pytest.mark.parametrize("length", range(12))
def test_a_text_of_any_length_can_be_the_prefix(store: Store, length: int) -> None:
    # zstd refuses a dictionary under 8 bytes: such a snapshot is stored on its own
    text = "abcdéfghijk".encode()[:length]
    raw = b"<html><body><main><p>" + text + b"</p></main></body></html>"
    digest = store.put_blob(raw, prefix=text)
    assert store.get_blob(digest) == raw
    row = store._one("SELECT encoding FROM blobs WHERE sha256 = ?", (digest,))
    expected = ZSTD_TEXT_PREFIX + sha256(text) if length >= ZSTD_MIN_PREFIX else "zstd"
    assert row == {"encoding": expected}


def test_missing_dictionary_is_a_clear_error(store: Store) -> None:
    page, text = realistic_page()
    digest = store.put_blob(page, prefix=text)
    store.conn.execute("DELETE FROM blobs WHERE sha256 = ?", (sha256(text),))
    with pytest.raises(StoreError, match=f"blob {digest[:12]} cannot be read: the blob it was"):
        store.get_blob(digest)


@pytest.mark.parametrize(
    ("encoding", "data", "message"),
    [
        ("zstd", b"not zstd", "a zstd blob cannot be decompressed"),
        ("zlib", b"not zlib", "a zlib blob cannot be decompressed"),
        ("brotli", b"x", "blob encoding 'brotli' is not supported"),
    ],
)
def test_unreadable_blobs_are_store_errors(
    store: Store, encoding: str, data: bytes, message: str
) -> None:
    store._insert("blobs", {"sha256": "ab" * 32, "encoding": encoding, "size": 1, "data": data})
    with pytest.raises(StoreError, match=message):
        store.get_blob("ab" * 32)


def _stored_bytes(store: Store) -> int:
    return int(store._one("SELECT SUM(LENGTH(data)) AS n FROM blobs")["n"])  # type: ignore[index]


def test_snapshot_and_text_prefix_shrink_a_realistic_page(tmp_path: Path) -> None:
    page, text = realistic_page()
    before = len(zlib.compress(page, 6)) + len(zlib.compress(text, 6))  # the old codec
    kept = snapshot(page, "html", NO_RULES)
    with Store.open(tmp_path / "snap") as store:
        store.put_blob(kept, prefix=text)
        assert store.get_blob(sha256(kept)) == kept
        total = _stored_bytes(store)
        alone = store._one("SELECT LENGTH(data) AS n FROM blobs WHERE sha256 = ?", (sha256(kept),))
    assert len(kept) < len(page) / 2
    assert total < before / 3
    # the snapshot against its text costs a fraction of the text itself
    assert alone is not None and alone["n"] < len(zlib.compress(text, 6)) / 5


# --- snapshots ----------------------------------------------------------------

ARTICLE = "<main><h1>Policy</h1><p>" + " ".join(WORDS * 12) + "</p><p>We commit.</p></main>"


def page(head: str = "", body_extra: str = "", tail: str = "") -> bytes:
    return (
        f"<!DOCTYPE html><html><head><title>T</title>{head}</head>"
        f"<body>{body_extra}{ARTICLE}{tail}</body></html>"
    ).encode()


Snapshotter = Callable[..., bytes]


def fingerprint(content: bytes, rules: ExtractRules) -> str:
    """What a check compares to skip extraction: equal for pages that extract alike."""
    root = parse(decode_markup(content, None, is_html=True))
    return roots_fingerprint(prepare(root, url="https://x/", rules=rules), None, rules)


def process_snapshot(
    content: bytes, kind: str, rules: ExtractRules, charset: str | None = None
) -> bytes:
    """The snapshot `process` makes along with the extraction (one parse)."""
    if kind != "html":
        return snapshot(content, kind, rules, charset)  # type: ignore[arg-type]
    done = process(
        content, content_type="text/html", charset=charset, url="https://x/", rules=rules
    )
    return content if done.snapshot is None else done.snapshot


SNAPSHOTTERS: list[Snapshotter] = [snapshot, process_snapshot]
SNAPSHOTTER_IDS = ["separate", "one-parse"]

STRIP_CASES = {
    "script": (page("<script>var a = 1 < 2 && b > 3;</script>"), True),
    "style": (page("<style>p > a { color: red }</style>"), True),
    "json": (page('<script type="application/json">{"a": "<p>x</p>"}</script>'), True),
    "close in string": (
        page("<script>var s = '</scr' + 'ipt>'; x = \"</script >\"</script>"),
        True,
    ),
    "upper case": (page("<SCRIPT type=x>alert(1)</SCRIPT\n>"), True),
    "attribute with >": (page('<script data-x="a>b">go()</script>'), True),
    "script in body": (b"", True),
    "script in comment": (
        page(body_extra="<!-- <script> -->Visible words here<!-- </script> -->"),
        False,
    ),
    "unclosed script": (page(tail="<script>var x = 1;"), False),
    "scripts element": (page("<scripts>custom</scripts>"), False),
    "no script": (page(), False),
}
STRIP_CASES["script in body"] = (
    page(body_extra="<p>Before</p><script>document.write('<p>x</p>')</script><p>After</p>"),
    True,
)


@pytest.mark.parametrize(("content", "strips"), STRIP_CASES.values(), ids=STRIP_CASES.keys())
@pytest.mark.parametrize(
    "rules",
    [NO_RULES, ExtractRules(select=("main",), remove=("h1",)), ExtractRules(follow="a")],
    ids=["none", "select", "follow"],
)
@pytest.mark.parametrize("make", SNAPSHOTTERS, ids=SNAPSHOTTER_IDS)
def test_snapshot_extracts_like_the_original(
    content: bytes, strips: bool, rules: ExtractRules, make: Snapshotter
) -> None:
    kept = make(content, "html", rules)
    assert (kept != content) == strips
    for view in (NO_RULES, rules):
        assert fingerprint(kept, view) == fingerprint(content, view)
    before = extract(content, content_type="text/html", charset=None, url="https://x/", rules=rules)
    after = extract(kept, content_type="text/html", charset=None, url="https://x/", rules=rules)
    assert after == before


@pytest.mark.parametrize("make", SNAPSHOTTERS, ids=SNAPSHOTTER_IDS)
def test_snapshot_keeps_tags_and_attributes(make: Snapshotter) -> None:
    content = page('<script src="/a.js" defer>inline()</script><style media="print">p{}</style>')
    assert b'<script src="/a.js" defer></script><style media="print"></style>' in make(
        content, "html", NO_RULES
    )


@pytest.mark.parametrize(
    ("content", "kind", "rules"),
    [
        (page("<script>x()</script>"), "pdf", NO_RULES),
        (page("<script>x()</script>"), "text", NO_RULES),
        (page("<script>x()</script>"), "html", ExtractRules(select=("p:-soup-contains(commit)",))),
        (page("<script>x()</script>"), "html", ExtractRules(remove=("div:contains('y')",))),
    ],
    ids=["pdf", "text", "soup-contains", "contains"],
)
@pytest.mark.parametrize("make", SNAPSHOTTERS, ids=SNAPSHOTTER_IDS)
@pytest.mark.filterwarnings("ignore::FutureWarning:soupsieve")
def test_snapshot_leaves_alone(
    content: bytes, kind: str, rules: ExtractRules, make: Snapshotter
) -> None:
    assert make(content, kind, rules) == content  # type: ignore[arg-type]


@pytest.mark.parametrize("make", SNAPSHOTTERS, ids=SNAPSHOTTER_IDS)
@pytest.mark.parametrize("charset", [None, "utf-8", "windows-1252"])
def test_snapshot_keeps_a_page_whose_decoding_would_change(
    make: Snapshotter, charset: str | None
) -> None:
    # invalid UTF-8 only inside the script: the original decodes as windows-1252
    content = b"<html><body><script>\xff\xfe</script><p>caf\xc3\xa9 " + b"word " * 200 + b"</p>"
    assert strip_bodies(content) != content
    assert make(content, "html", NO_RULES, charset) == content


@pytest.mark.parametrize("charset", [None, "utf-8", "iso-8859-1"])
def test_one_parse_snapshot_agrees_with_the_separate_proof(charset: str | None) -> None:
    content, _ = realistic_page()
    kept = process_snapshot(content, "html", NO_RULES, charset)
    assert kept != content
    assert kept == snapshot(content, "html", NO_RULES, charset)


_PIECES = [
    "<script>a<b</script>",
    "<script type='x'>'</script>'</script>",
    "<style>p{}</style>",
    "<!-- <script> -->",
    "<!-- </script> -->",
    "<script>",
    "</script>",
    "<p>words here</p>",
    "<div>more text <b>bold</b></div>",
    '<a href="/x">link</a>',
    "<textarea><script>t</script></textarea>",
    "<noscript><p>js off</p></noscript>",
    "plain text ",
    "<!--",
    "-->",
    "<title>x</title>",
]
_pieces = st.sampled_from(_PIECES)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_pieces, max_size=12), st.text(max_size=20))
def test_snapshot_never_changes_the_text(pieces: list[str], noise: str) -> None:
    content = (
        "<html><head><title>T</title></head><body>"
        + "".join(pieces)
        + noise
        + ARTICLE
        + "</body></html>"
    ).encode()
    kept = snapshot(content, "html", NO_RULES)
    # the one-parse proof may decide otherwise, never wrongly
    with contextlib.suppress(WatcherError):  # no snapshot is kept of what does not extract
        one_parse = process_snapshot(content, "html", NO_RULES)
        assert extract(
            one_parse, content_type="text/html", charset=None, url="https://x/", rules=NO_RULES
        ) == extract(
            content, content_type="text/html", charset=None, url="https://x/", rules=NO_RULES
        )
    try:
        before = extract(
            content, content_type="text/html", charset=None, url="https://x/", rules=NO_RULES
        )
    except Exception as exc:  # the original's error must be the snapshot's too
        with pytest.raises(type(exc)):
            extract(kept, content_type="text/html", charset=None, url="https://x/", rules=NO_RULES)
        return
    after = extract(kept, content_type="text/html", charset=None, url="https://x/", rules=NO_RULES)
    assert after == before


_tricky = st.sampled_from(
    [
        *_PIECES,
        "<script>x</script >",
        "<SCRIPT>y</SCRIPT>",
        "<script>z</script\n>",
        "<script>\r\nw\r\n</script>",
        "<script><!--</script>-->",
        "<script><!-- <script> --></script>",
        "<script src=x></script>",
        "<style><script>s</script></style>",
        "<script><style>t</style></script>",
        '<div title="<script>q</script>">d</div>',
        "<div title='<style>r</style>'>e</div>",
        "<![CDATA[<script>c</script>]]>",
        "<?pi <script>p</script> ?>",
        "<style>",
        "<title><script>u</script></title>",
        "<xmp><script>v</script></xmp>",
        "<iframe><script>i</script></iframe>",
        "<noscript><script>n</script></noscript>",
        "<svg><script>g</script><style>h</style></svg>",
        "<template><script>k</script></template>",
        "<table><script>m</script><tr><td>cell</td></tr></table>",
        "<select><script>o</script></select>",
        "\x00",
        "&lt;script&gt;",
        "<script>const s = '\u00e9\u2019\U0001f600</scr\u00efpt>';</script>",
        "<p>caf\u00e9 \u2014 \u201cquoted\u201d</p><style>p::after{content:'\u00bb'}</style>",
        "<SCRİPT>\u0131</SCRİPT>",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_tricky, max_size=14), st.text(max_size=12))
def test_bodies_that_correspond_prove_the_stripped_tree(pieces: list[str], noise: str) -> None:
    """The short proof: when the cut removed exactly the texts of the page's
    script and style elements, the stripped page parses to the same tree with
    those texts empty. Checked here by parsing it, as the long proof does."""
    markup = "<html><head><title>T</title></head><body>" + "".join(pieces) + noise + ARTICLE
    root = parse(markup)
    bodies = bodies_of(root)
    whole = empty_bodies(root)
    cut, removed = cut_bodies_text(markup)
    assert cut == strip_bodies_text(markup)
    # On the page's UTF-8 bytes the cut is the same, body for body: the
    # snapshot takes it from the bytes when the text is their UTF-8 decoding.
    cut_bytes, removed_bytes = cut_bodies(markup.encode("utf-8"))
    assert cut_bytes.decode("utf-8") == cut
    assert tuple([body.decode("utf-8") for body in found] for found in removed_bytes) == removed
    if removed == bodies:
        assert empty_bodies(parse(cut)) == whole


# --- in the pipeline ------------------------------------------------------------


def test_pipeline_stores_the_snapshot_and_reextracts_it(env: Env, site: Site) -> None:
    content, _ = realistic_page()
    site.set("/rsp", content, content_type="text/html; charset=utf-8")
    env.sources = [{"id": "rsp", "url": site.url("/rsp"), "select": ["main"]}]
    env.check()
    (first,) = env.store.versions("rsp")
    kept = env.store.get_blob(first.raw_sha256)
    assert len(kept) < len(content) / 2 and b"<script" in kept
    row = env.store._one("SELECT encoding FROM blobs WHERE sha256 = ?", (first.raw_sha256,))
    assert row == {"encoding": ZSTD_TEXT_PREFIX + first.text_sha256}
    # checks and the skip-extraction test keep the digest of the bytes as fetched
    assert env.store.require_source("rsp")["last_raw_sha256"] == sha256(content)
    assert env.store.checks("rsp")[0]["raw_sha256"] == sha256(content)
    assert env.outcome(env.check(), "rsp").outcome == "unchanged"
    # new rules: the stored snapshot is re-extracted, as the original would be
    env.sources[0]["remove"] = ["h2"]
    env.check()
    second = env.store.versions("rsp")[-1]
    assert second.reextracted and second.raw_sha256 == first.raw_sha256
    rules = ExtractRules(select=("main",), remove=("h2",))
    whole = extract(content, content_type="text/html", charset=None, url="https://x/", rules=rules)
    assert env.store.version_text(second) == whole.text


# --- transactions and migrations ----------------------------------------------


def test_a_failed_transaction_keeps_nothing_and_a_full_disk_is_a_storage_error(
    store: Store,
) -> None:
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages + 2}")
    with pytest.raises(StorageError) as caught, store.transaction():
        store.set_meta("kept", "no")
        for n in range(20):
            store.put_blob(random.Random(n).randbytes(3000))
    assert caught.value.cause == "full" and caught.value.path == store.path
    assert "the disk is full; free space" in str(caught.value)
    assert store.meta("kept") is None
    assert store._one("SELECT COUNT(*) AS n FROM blobs") == {"n": 0}
    # room again: the same store goes on
    store.conn.execute("PRAGMA max_page_count = 1000000")
    with store.transaction():
        store.set_meta("kept", "yes")
    assert store.meta("kept") == "yes"


def test_migrations_apply_in_one_transaction_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half (x)")
        conn.execute("CREATE TABLE sources (x)")  # already exists: fails

    monkeypatch.setattr("watcher.store.MIGRATIONS", (*MIGRATIONS, broken))
    monkeypatch.setattr("watcher.store.SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StorageError, match=r"\[table sources already exists\]"):
        Store.open(tmp_path)
    conn = sqlite3.connect(tmp_path / DB_NAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
    conn.close()


def test_a_migration_already_applied_by_another_process_is_not_applied_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the version read before the lock is stale: the one read under it decides
    first = Store.open(tmp_path)
    versions = iter([0, SCHEMA_VERSION])
    monkeypatch.setattr(Store, "schema_version", property(lambda self: next(versions)))
    first.migrate()  # would fail on "table sources already exists" if it applied m1
    first.close()

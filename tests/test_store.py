"""Blob codec (zstd, zstd against the version's text, old zlib), snapshots as sent, migrations."""

from __future__ import annotations

import gzip
import json
import random
import sqlite3
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Env, Site
from watcher import queries
from watcher.errors import StorageError, StoreError
from watcher.extract import extract
from watcher.models import ExtractRules
from watcher.store import (
    DB_NAME,
    MIGRATIONS,
    SCHEMA_VERSION,
    ZSTD_MIN_PREFIX,
    ZSTD_TEXT_PREFIX,
    Store,
    decode_pages,
    encode_pages,
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


def _stored_bytes(store: Store, digest: str | None = None) -> int:
    if digest is None:
        return int(store._one("SELECT SUM(LENGTH(data)) AS n FROM blobs")["n"])  # type: ignore[index]
    row = store._one("SELECT LENGTH(data) AS n FROM blobs WHERE sha256 = ?", (digest,))
    assert row is not None
    return int(row["n"])


def test_a_page_against_its_text_costs_less_than_each_alone(tmp_path: Path) -> None:
    page, text = realistic_page()
    with Store.open(tmp_path / "apart") as store:
        store.put_blob(page)
        store.put_blob(text)
        apart = _stored_bytes(store)
        text_alone = _stored_bytes(store, sha256(text))
    with Store.open(tmp_path / "prefix") as store:
        store.put_blob(page, prefix=text)
        assert store.get_blob(sha256(page)) == page
        together = _stored_bytes(store)
    # the article the page and its text share is stored about once
    assert together < apart - text_alone / 2


# --- in the pipeline ------------------------------------------------------------


def test_pipeline_stores_the_bytes_as_sent_and_reextracts_them(env: Env, site: Site) -> None:
    content, _ = realistic_page()
    site.set(
        "/rsp",
        content,
        content_type="text/html; charset=utf-8",
        headers={"ETag": '"v1"', "Last-Modified": "Tue, 01 Dec 2026 10:00:00 GMT"},
    )
    env.sources = [{"id": "rsp", "url": site.url("/rsp"), "select": ["main"]}]
    env.check()
    (first,) = env.store.versions("rsp")
    # the snapshot is the body as sent, scripts and all, named by its own digest
    assert env.store.get_blob(first.raw_sha256) == content
    assert first.snapshot_sha256 == first.raw_sha256 == sha256(content)
    row = env.store._one("SELECT encoding FROM blobs WHERE sha256 = ?", (first.raw_sha256,))
    assert row == {"encoding": ZSTD_TEXT_PREFIX + first.text_sha256}
    assert (first.http_status, first.content_type, first.charset) == (200, "text/html", "utf-8")
    assert (first.etag, first.last_modified) == ('"v1"', "Tue, 01 Dec 2026 10:00:00 GMT")
    assert first.url == site.url("/rsp") and first.snapshot_as_sent
    assert env.store.require_source("rsp")["last_raw_sha256"] == sha256(content)
    assert env.store.checks("rsp")[0]["raw_sha256"] == sha256(content)
    assert env.outcome(env.check(), "rsp").outcome in {"unchanged", "not_modified"}
    # new rules: the stored snapshot is re-extracted, as the original would be
    env.sources[0]["remove"] = ["h2"]
    env.check()
    second = env.store.versions("rsp")[-1]
    assert second.reextracted and second.raw_sha256 == first.raw_sha256
    # the re-extraction keeps the snapshot and the response it came from
    assert second.snapshot_sha256 == sha256(content)
    assert (second.http_status, second.charset, second.etag, second.last_modified) == (
        200,
        "utf-8",
        '"v1"',
        "Tue, 01 Dec 2026 10:00:00 GMT",
    )
    rules = ExtractRules(select=("main",), remove=("h2",))
    whole = extract(content, content_type="text/html", charset=None, url="https://x/", rules=rules)
    assert env.store.version_text(second) == whole.text


def test_a_gzip_response_is_stored_and_named_as_decoded(env: Env, site: Site) -> None:
    content, _ = realistic_page()
    site.set("/rsp", gzip.compress(content), headers={"Content-Encoding": "gzip"})
    env.sources = [{"id": "rsp", "url": site.url("/rsp"), "select": ["main"]}]
    env.check()
    (version,) = env.store.versions("rsp")
    assert version.snapshot_sha256 == sha256(content)
    assert env.store.get_blob(version.raw_sha256) == content


GREEK = "Η πολιτική μας δεσμεύεται να ενημερώνει το συμβούλιο. "


def test_reextraction_reads_the_snapshot_with_the_charset_the_server_named(
    env: Env, site: Site
) -> None:
    # no <meta charset>: without the header's charset the bytes read as Cyrillic
    body = f"<html><body><main><h2>Πολιτική</h2><p>{GREEK * 30}</p></main></body></html>"
    site.set("/gr", body.encode("iso-8859-7"), content_type="text/html; charset=iso-8859-7")
    env.sources = [{"id": "gr", "url": site.url("/gr"), "select": ["main"]}]
    env.check()
    (first,) = env.store.versions("gr")
    assert first.charset == "iso-8859-7" and "δεσμεύεται" in env.store.version_text(first)
    env.sources[0]["remove"] = ["h2"]
    env.check()
    second = env.store.versions("gr")[-1]
    assert second.reextracted
    assert env.store.version_text(second) == (GREEK * 30).strip()


# --- transactions and migrations ----------------------------------------------


WHOLE = b"<html><head><script>track(1)</script></head><body><main><p>We commit.</p></main></body></html>"
STRIPPED = WHOLE.replace(
    b"track(1)", b""
)  # what watcher stored of it before snapshots were kept whole
PDF = b"%PDF-1.4 a policy"


def _version(store: Store, number: int, raw: bytes, kind: str, **values: object) -> None:
    store.add_version(
        source_id="a",
        number=number,
        captured_at=f"2026-01-0{number}T00:00:00Z",
        raw_sha256=store.put_blob(raw),
        text_sha256=store.put_text(f"text {number}"),
        kind=kind,
        chars=6,
        words=2,
        url="https://example.org/p",
        content_type="application/pdf" if kind == "pdf" else "text/html",
        **values,
    )


def _check(store: Store, number: int, raw: bytes, status: int) -> None:
    store.add_check(
        source_id="a",
        started_at=f"2026-01-0{number}T00:00:00Z",
        http_status=status,
        outcome="new_version",
        raw_sha256=sha256(raw),  # checks always named the bytes as fetched
        version=number,
    )


def undo_citations_migration(conn: sqlite3.Connection) -> None:
    """Drop what migration 9 (citations) added, for a database of an older schema."""
    conn.execute("DROP TABLE citation_events")
    conn.execute("DROP TABLE citations")
    conn.execute("ALTER TABLE tasks DROP COLUMN criteria")


def _as_schema_4(state: Path) -> None:
    conn = sqlite3.connect(state / DB_NAME)
    # undo migrations 9 (citations), 8 (pages), 7 (lineage), 6 (fetcher), then 5
    undo_citations_migration(conn)
    conn.execute("DROP INDEX sources_supersedes")
    for table, column in (
        ("sources", "supersedes"),
        ("sources", "lineage_decision"),
        ("sources", "lineage_reason"),
        ("sources", "unlinked_at"),
        ("versions", "sketch"),
        ("tasks", "documents"),
    ):
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    for column in ("http_status", "charset", "snapshot_as_sent", "fetcher", "pages"):
        conn.execute(f"ALTER TABLE versions DROP COLUMN {column}")
    conn.execute("ALTER TABLE checks DROP COLUMN fetcher")  # added by migration 6
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()


def test_older_versions_say_honestly_whether_their_snapshot_is_as_sent(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.upsert_source("a", url="https://example.org/p", lab="L", title="T")
        _version(store, 1, WHOLE, "html", etag='"e1"')  # nothing was cut from it
        _check(store, 1, WHOLE, 200)
        _version(store, 2, STRIPPED, "html", etag='"e2"', last_modified="Mon, 05 Jan 2026")
        _check(store, 2, WHOLE + b"<!-- v2 -->", 203)  # fetched whole, stored stripped
        _version(store, 3, PDF, "pdf")  # PDFs were never cut
        _version(store, 4, STRIPPED, "html", reextracted=1)  # v2's snapshot, new rules
        store.update_source("a", last_raw_sha256=sha256(WHOLE))
    _as_schema_4(tmp_path)
    with Store.open(tmp_path) as store:
        assert store.schema_version == SCHEMA_VERSION
        v1, v2, v3, v4 = store.versions("a")
        data = queries.history(store, "a")
    assert (v1.snapshot_as_sent, v1.snapshot_sha256, v1.http_status) == (True, sha256(WHOLE), 200)
    assert (v2.snapshot_as_sent, v2.snapshot_sha256, v2.http_status) == (False, None, 203)
    assert (v3.snapshot_as_sent, v3.snapshot_sha256, v3.http_status) == (True, sha256(PDF), None)
    # a re-extraction shares its snapshot, and now the headers of the response it came from
    assert (v4.snapshot_as_sent, v4.snapshot_sha256) == (False, None)
    assert (v4.http_status, v4.etag, v4.last_modified) == (203, '"e2"', "Mon, 05 Jan 2026")
    assert [v["snapshot_sha256"] for v in data["versions"]] == [
        sha256(WHOLE),
        None,
        sha256(PDF),
        None,
    ]
    assert [v["snapshot_as_sent"] for v in data["versions"]] == [True, False, True, False]
    assert data["versions"][1]["response"] == {
        "status": 203,
        "url": "https://example.org/p",
        "content_type": "text/html",
        "charset": None,
        "etag": '"e2"',
        "last_modified": "Mon, 05 Jan 2026",
    }


def test_without_its_check_rows_an_older_html_snapshot_is_not_claimed_as_sent(
    tmp_path: Path,
) -> None:
    with Store.open(tmp_path) as store:
        store.upsert_source("a", url="https://example.org/p", lab="L", title="T")
        _version(store, 1, WHOLE, "html")  # whole in fact, but its check rows were pruned
        _version(store, 2, WHOLE + b" ", "html")  # the latest bytes the source remembers
        store.update_source("a", last_raw_sha256=sha256(WHOLE + b" "))
    _as_schema_4(tmp_path)
    with Store.open(tmp_path) as store:
        v1, v2 = store.versions("a")
    assert (v1.snapshot_as_sent, v1.snapshot_sha256) == (False, None)
    assert (v2.snapshot_as_sent, v2.snapshot_sha256) == (True, sha256(WHOLE + b" "))


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


def test_a_version_keeps_its_page_map_beside_its_text(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.upsert_source("a", url="https://example.org/p.pdf", lab="L", title="T")
        _version(store, 1, PDF, "pdf", pages=encode_pages((1, 1, 2, 2, 2, 3)))
        _version(store, 2, WHOLE, "html")
        _version(store, 3, PDF, "pdf", pages="not json")  # damaged: no pages, no crash
        v1, v2, v3 = store.versions("a")
    assert v1.page_starts == ((0, 1), (2, 2), (5, 3))
    assert Store.version_pages(v1, "a\nb\nc\nd\ne\nf") == (1, 1, 2, 2, 2, 3)
    assert v2.page_starts is None and Store.version_pages(v2, "x") is None
    assert v3.page_starts is None
    assert decode_pages(None) is None and encode_pages(None) is None


def test_versions_recorded_before_pages_were_kept_have_none(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.upsert_source("a", url="https://example.org/p.pdf", lab="L", title="T")
        _version(store, 1, PDF, "pdf")
    conn = sqlite3.connect(tmp_path / DB_NAME)  # as migration 7 left it
    undo_citations_migration(conn)
    conn.execute("ALTER TABLE versions DROP COLUMN pages")
    conn.execute("PRAGMA user_version = 7")
    conn.commit()
    conn.close()
    with Store.open(tmp_path) as store:
        assert store.schema_version == SCHEMA_VERSION
        [version] = store.versions("a")
    assert version.page_starts is None

"""How fast does every dashboard page answer for a source with 200 versions of a 50,000-word document?

Builds the database directly through `Store` methods (generated text: 50
sections of prose; each version edits a few words, rewrites a sentence,
inserts or deletes a paragraph), adds a dozen small sources and review tasks,
then requests every page with Starlette's TestClient and prints the median
and worst of several runs.

    .venv/bin/python bench/dashboard_speed.py [--versions 200] [--words 50000] [--runs 5]

The target (issue 7) is under 200 ms for every page.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from watcher import review
from watcher.config import load_config
from watcher.store import Store
from watcher.web.app import create_app

with warnings.catch_warnings():
    # Starlette 1.x prefers the httpx2 fork; httpx works the same here.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

BIG = "bigco-rsp"
CONFIG = """\
[watcher]
state_dir = "state"
default_interval = "1h"
user_agent = "bench/1.0"
"""


def vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    syllables = [
        "ra",
        "po",
        "li",
        "cy",
        "mo",
        "del",
        "safe",
        "ty",
        "eval",
        "risk",
        "thre",
        "shold",
        "gov",
        "ern",
        "an",
        "ce",
        "cap",
        "abil",
        "it",
        "ies",
        "se",
        "cur",
        "dep",
        "loy",
    ]
    words = {
        "".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(size * 2)
    }
    return sorted(words)[:size]


def paragraph(rng: random.Random, vocab: list[str], words: int) -> str:
    return " ".join(rng.choice(vocab) for _ in range(words)).capitalize() + "."


def first_text(rng: random.Random, vocab: list[str], total_words: int) -> list[str]:
    lines: list[str] = ["# BigCo Responsible Scaling Policy"]
    sections = 50
    per_section = total_words // sections
    for s in range(1, sections + 1):
        lines.append(f"## {s}. {paragraph(rng, vocab, 3)[:-1]}")
        written = 0
        while written < per_section:
            n = rng.randint(30, 70)
            lines.append(paragraph(rng, vocab, n))
            written += n
    return lines


def edit(rng: random.Random, vocab: list[str], lines: list[str]) -> list[str]:
    lines = list(lines)
    body = [i for i, line in enumerate(lines) if not line.startswith("#")]
    for _ in range(4):  # word edits
        i = rng.choice(body)
        words = lines[i].split(" ")
        words[rng.randrange(len(words))] = rng.choice(vocab)
        lines[i] = " ".join(words)
    i = rng.choice(body)  # a rewritten sentence
    lines[i] = paragraph(rng, vocab, rng.randint(30, 70))
    i = rng.choice(body)
    if rng.random() < 0.5:
        lines.insert(i, paragraph(rng, vocab, 40))
    else:
        del lines[i]
    return lines


def build(state_dir: Path, versions: int, words: int) -> None:
    rng = random.Random(7)
    vocab = vocabulary(rng)
    store = Store.open(state_dir)
    base = 1_735_689_600  # 2025-01-01
    with store.transaction():
        for n in range(12):
            store.upsert_source(
                f"lab{n}-policy",
                url=f"https://lab{n}.example/policy",
                lab=f"Lab {n % 6}",
                title=f"Lab {n} policy",
            )
            text = "\n".join(first_text(rng, vocab, 2000))
            _version(store, f"lab{n}-policy", 1, text, base)
        store.upsert_source(
            BIG,
            url="https://bigco.example/rsp.pdf",
            lab="BigCo",
            title="BigCo Responsible Scaling Policy",
        )
    lines = first_text(rng, vocab, words)
    for number in range(1, versions + 1):
        if number > 1:
            lines = edit(rng, vocab, lines)
        stamp = base + number * 86_400
        with store.transaction():
            _version(store, BIG, number, "\n".join(lines), stamp)
        if number > 1:
            change = review.record_change(
                store,
                BIG,
                from_version=number - 1,
                to_version=number,
                summary=f"+{number}/−{number} words in section {number % 50}",
                severity=("minor", "substantive", "major")[number % 3],
                config=None,
            )
            if number % 10 == 0:
                review.close(store, change.task_id, "regraded", actor="bench", config=None)
    store.close()


def _version(store: Store, source_id: str, number: int, text: str, stamp: int) -> None:
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
    raw = store.put_blob(b"%PDF-1.7 " + text.encode())
    digest = store.put_text(text)
    store.add_version(
        source_id=source_id,
        number=number,
        captured_at=when,
        raw_sha256=raw,
        text_sha256=digest,
        kind="pdf",
        chars=len(text),
        words=len(text.split()),
        url=None,
        content_type="application/pdf",
    )
    store.add_check(
        source_id=source_id,
        started_at=when,
        duration_ms=420,
        http_status=200,
        bytes=len(text),
        outcome="new_version",
        raw_sha256=raw,
        version=number,
    )
    store.update_source(source_id, status="ok", last_checked=when, last_changed=when)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=200)
    parser.add_argument("--words", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="dashboard-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(CONFIG, encoding="utf-8")
    config = load_config(folder / "config.toml")

    if (config.watcher.state_dir / "watcher.db").exists():
        print(f"reusing the database in {config.watcher.state_dir}")
    else:
        started = time.perf_counter()
        build(config.watcher.state_dir, args.versions, args.words)
        elapsed = time.perf_counter() - started
        print(f"built {args.versions} versions of ~{args.words:,} words in {elapsed:.1f} s")
    store = Store.open(config.watcher.state_dir)
    started = time.perf_counter()
    added = store.index_versions()
    print(f"indexed {added} versions for search in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    store.index_versions()
    print(f"index catch-up with nothing new: {(time.perf_counter() - started) * 1000:.1f} ms")
    last_task = store.tasks()[-1]["id"]
    store.close()

    n = args.versions
    pages = [
        "/",
        "/?lab=BigCo",
        f"/sources/{BIG}",
        f"/sources/{BIG}/diff",
        f"/sources/{BIG}/diff?old={n - 1}&new={n}&view=inline",
        f"/sources/{BIG}/diff?old=1&new={n}",
        f"/sources/{BIG}/diff?old=1&new={n}&view=inline",
        "/tasks",
        "/tasks?status=all",
        f"/tasks/{last_task}",
        "/search?q=risk",
        '/search?q="safe+ty"',
        "/search?q=nosuchwordanywhere",
        "/feed.atom",
        "/labs/BigCo/feed.atom",
        f"/sources/{BIG}/feed.atom",
        "/api/sources",
        f"/api/sources/{BIG}/versions",
        f"/api/sources/{BIG}/versions/{n}",
        "/api/tasks?status=all",
        f"/api/tasks/{last_task}",
        f"/api/sources/{BIG}/diff?old={n - 1}&new={n}",
        f"/api/sources/{BIG}/diff?old=1&new={n}",
        "/api/search?q=risk",
        f"/sources/{BIG}/versions/{n}/raw",
        f"/sources/{BIG}/versions/{n}/text",
    ]
    app = create_app(config)
    worst = 0.0
    with TestClient(app, base_url="http://127.0.0.1") as client:
        print(f"{'page':<58} {'first':>8} {'median':>8} {'max':>8}  size")
        for page in pages:
            times = []
            for _ in range(args.runs + 1):
                t0 = time.perf_counter()
                response = client.get(page)
                times.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (page, response.status_code)
            # The first request of a page is cold (no cached diff); count it.
            worst = max(worst, max(times))
            print(
                f"{page:<58} {times[0]:7.1f}ms {statistics.median(times[1:]):7.1f}ms "
                f"{max(times[1:]):7.1f}ms "
                f"{len(response.content) / 1024:6.0f} KB"
            )
    print(f"slowest page: {worst:.1f} ms ({'under' if worst < 200 else 'OVER'} the 200 ms target)")
    if not args.keep:
        print(f"database left in {folder} (delete it when done)")


if __name__ == "__main__":
    main()

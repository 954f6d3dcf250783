"""CPU time of HTML extraction on a bench-shaped page.

    python bench/extract_speed.py [--size BYTES] [--repeat N]

The page comes from bench/run.py's generator (large inline scripts, navigation,
cookie banner, a long article), with the bench's rules (select `article`,
remove cookie banner, nav, footer) and with no rules (whole page). Prints CPU
milliseconds per page, best and median of N runs: the renderer alone
(`extract_html`) and with the sanity checks (`extract()`).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import REMOVE, SELECT, Site, plan
from watcher.extract import extract
from watcher.extract.html import extract_html
from watcher.models import ExtractRules

URL = "http://127.0.0.2/docs/000000"


def bench_page(size: int) -> bytes:
    """The bench's HTML page whose size is closest to `size` bytes."""
    docs = [doc for doc in plan(60, 8) if doc.kind == "html"]
    site = Site(docs, 8, {})
    pages = []
    for doc in docs:
        a, b, c = site.html_parts(doc, changed=False)
        pages.append(a + b"token-0123456789abcdef" + b + b"2026-11-27 03:00:00 UTC" + c)
    return min(pages, key=lambda page: abs(len(page) - size))


def cpu_ms(function: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        function()
        times.append((time.process_time() - start) * 1000)
    return min(times), statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=225_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    page = bench_page(args.size)
    print(f"page: {len(page):,} bytes")
    cases = {
        "bench rules": ExtractRules(select=(SELECT,), remove=REMOVE),
        "no rules": ExtractRules(),
        "follow 'nav a'": ExtractRules(follow="nav a"),
    }
    print(f"{'rules':<16} {'path':<22} {'best ms':>8} {'median ms':>10}")
    for label, rules in cases.items():
        calls = {
            "extract_html": functools.partial(
                extract_html, page, charset="utf-8", url=URL, rules=rules
            ),
            "extract()": functools.partial(
                extract, page, content_type="text/html", charset="utf-8", url=URL, rules=rules
            ),
        }
        for name, call in calls.items():
            best, median = cpu_ms(call, args.repeat)
            print(f"{label:<16} {name:<22} {best:8.1f} {median:10.1f}")
        print(f"{'':<16} {len(calls['extract()']().text):,} characters of text")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Compare PDF text extractors on real multi-page PDFs: time and words recovered.

    python bench/pdf_extractors.py FILE.pdf [FILE.pdf ...]

pypdfium2 is watcher's extractor; pypdf (installed with the test extra) and
pdfminer.six (if installed) are measured beside it. Prints one line per file
and extractor.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path


def with_pdfium(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    try:
        return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
    finally:
        doc.close()


def with_pypdf(data: bytes) -> list[str]:
    import io

    import pypdf

    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def with_pdfminer(data: bytes) -> list[str]:
    import io

    from pdfminer.high_level import extract_text  # type: ignore[import-not-found]

    return [extract_text(io.BytesIO(data))]


EXTRACTORS: dict[str, Callable[[bytes], list[str]]] = {
    "pypdfium2": with_pdfium,
    "pypdf": with_pypdf,
    "pdfminer.six": with_pdfminer,
}


def main(paths: list[str]) -> None:
    for path in paths:
        data = Path(path).read_bytes()
        for name, extract in EXTRACTORS.items():
            try:
                started = time.perf_counter()
                pages = extract(data)
                elapsed = time.perf_counter() - started
            except ImportError:
                print(f"{Path(path).name:40} {name:13} not installed")
                continue
            words = sum(len(page.split()) for page in pages)
            print(f"{Path(path).name:40} {name:13} {elapsed:7.3f}s {words:7d} words")


if __name__ == "__main__":
    main(sys.argv[1:])

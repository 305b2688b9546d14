"""What reading a long report costs: pypdf text extraction and paragraph joining
(`tracker.pdftext.read_pdf`), and the clause reading of its text (`terms_of`) that a
changed page's detection does.

    python bench/pdf_pages.py [--pages 300] [--paragraphs 5]

Writes a report of PAGES pages (PARAGRAPHS paragraphs of nine hard-wrapped lines each, a
running header and page numbers) with the tests' PDF writer (tests/pdfs.py), reads it in
this process, and prints one JSON document: the document's size, seconds to read it,
pages per second, paragraphs and characters found, seconds for `terms_of` on the text.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.pdfs import pdf
from tracker.detect.clauses import MAX_TEXT
from tracker.detect.terms import terms_of
from tracker.pdftext import read_pdf

WORDS = [
    *("model", "training", "data", "compute", "evaluation", "report", "results", "method"),
    *("architecture", "safety", "benchmark", "the", "of", "and", "we", "a", "in", "to"),
]


def paragraph(rng: random.Random, number: int) -> list[str]:
    lines = [" ".join(rng.choice(WORDS) for _ in range(15)) for _ in range(8)]
    return [*lines, f"which ends paragraph {number}."]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--paragraphs", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(7)
    pages = [
        [line for n in range(args.paragraphs) for line in paragraph(rng, p * 100 + n)]
        for p in range(args.pages)
    ]
    document = pdf(pages, header="Example Lab Technical Report", numbered=True)
    started = time.perf_counter()
    text = read_pdf(document)
    read_seconds = time.perf_counter() - started
    joined = "\n\n".join(text.lines)
    started = time.perf_counter()
    terms_of(joined[:MAX_TEXT])
    terms_seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "pdf_bytes": len(document),
                "pages": text.pages_read,
                "read_seconds": round(read_seconds, 2),
                "pages_per_second": round(text.pages_read / read_seconds, 1),
                "paragraphs": len(text.lines),
                "paragraphs_expected": args.pages * args.paragraphs,
                "chars": len(joined),
                "terms_seconds": round(terms_seconds, 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

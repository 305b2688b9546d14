"""PDF documents as page sources: a technical report's text is read (pypdf), joined into
paragraphs and watched like a page's main text; broken, protected and image-only PDFs are
clear source errors."""

from __future__ import annotations

import json

import pytest

from tracker.clients import Clients
from tracker.config import Settings
from tracker.db import Database
from tracker.paragraphs import MAX_PARAGRAPH, paragraphs
from tracker.pdftext import PdfError, is_pdf, read_pdf
from tracker.poller import poll_sources, select_sources
from tracker.sources.page import extract_plain_text

from .pdfs import encrypted, pdf
from .polling import add_source, events_of, poll
from .sites import Site

# The sentence of the GPT-4 technical report the contract names, as the report set it.
GPT4 = (
    "Given both the competitive landscape and the safety implications of large-scale "
    "models like GPT-4, this report contains no further details about the architecture "
    "(including model size), hardware, training compute, dataset construction, training "
    "method, or similar."
)
GPT4_DIMENSIONS = ["architecture", "model_size", "hardware", "compute", "data", "training_method"]

# Set as a report is: lines run to the margin, the last line of a paragraph stops short.
INTRO = [
    "1 Introduction",
    "We report the development of Example-2, a large model that accepts image and text in-",
    "puts and produces text outputs. Example-2 is evaluated on a range of professional and",
    "academic benchmarks, where it performs at the level of people on several of",
    "them.",
    "Example-2 was trained on a mix of public and licensed data.",
]
SCOPE = [
    "2 Scope and Limitations of This Report",
    "This report focuses on the capabilities, limitations and safety properties of the",
    "model.",
    # The GPT-4 sentence, broken and hyphenated where a report's column would break it.
    "Given both the competitive landscape and the safety implications of large-scale models",
    "like GPT-4, this report contains no further details about the architecture (including",
    "model size), hardware, training compute, dataset construction, training method, or sim-",
    "ilar.",
]
RESULTS = [
    "3 Results",
    "Example-2 answers most questions of the evaluation suite in the top tenth of the people",
    "who took the same tests.",
]


def report(*pages: list[str]) -> bytes:
    return pdf(list(pages), title="Example-2 Technical Report", header="Example Lab", numbered=True)


def add_page(db: Database, url: str, links: str | None = None) -> int:
    return add_source(db, "page", url, links=links)


def poll_error(db: Database) -> str | None:
    (result,) = poll_sources(db, select_sources(db, None)).results
    return result.error


# ---------------------------------------------------------------------------- reading


def test_a_report_reads_as_paragraphs_without_page_numbers_or_running_header() -> None:
    text = read_pdf(report(INTRO, SCOPE, RESULTS))

    assert text.title == "Example-2 Technical Report"
    assert (text.pages, text.pages_read) == (3, 3)
    assert text.lines == (
        "1 Introduction",
        "We report the development of Example-2, a large model that accepts image and text "
        "inputs and produces text outputs. Example-2 is evaluated on a range of professional "
        "and academic benchmarks, where it performs at the level of people on several of them.",
        "Example-2 was trained on a mix of public and licensed data.",
        "2 Scope and Limitations of This Report",
        "This report focuses on the capabilities, limitations and safety properties of the model.",
        GPT4,
        "3 Results",
        "Example-2 answers most questions of the evaluation suite in the top tenth of the "
        "people who took the same tests.",
    )


def test_a_paragraph_carries_on_across_a_page_break() -> None:
    first = ["A paragraph that begins on one page and runs on to the margin of the page and"]
    second = ["then ends on the next one.", "A new paragraph starts here and ends at once."]

    assert read_pdf(pdf([first, second])).lines == (
        f"{first[0]} then ends on the next one.",
        "A new paragraph starts here and ends at once.",
    )


def test_sentences_that_differ_only_in_numbers_are_not_a_running_footer() -> None:
    pages = [[f"Section {n} has its own closing sentence, number {n}."] for n in range(1, 5)]

    text = read_pdf(pdf(pages, numbered=True))

    assert " ".join(text.lines) == " ".join(p[0] for p in pages)


def test_at_most_the_pages_allowed_are_read() -> None:
    text = read_pdf(report(INTRO, SCOPE, RESULTS), max_pages=2)

    assert (text.pages, text.pages_read) == (3, 2)
    assert "3 Results" not in text.lines


def test_a_pdf_is_known_by_its_type_or_its_header() -> None:
    document = report(INTRO)

    assert is_pdf(document, "application/octet-stream")
    assert is_pdf(b"", "application/pdf; qs=0.9")
    assert not is_pdf(b"<!doctype html><p>%PDF-1.7 is a version</p>", "text/html")


def test_a_document_open_to_anyone_but_encrypted_is_read() -> None:
    # Reports often restrict printing or copying with an owner password and no user one.
    document = encrypted(report(INTRO), user_password="")

    assert "1 Introduction" in read_pdf(document).lines


@pytest.mark.parametrize(
    ("document", "error"),
    [
        (b"%PDF-1.7\n", "not a readable PDF: "),
        (report(INTRO)[:400], "not a readable PDF: "),
        (b"", "not a readable PDF: the response is empty"),
        (
            encrypted(report(INTRO), user_password="s3cret"),
            "the PDF is protected by a password: its text cannot be read",
        ),
        (
            pdf([["x"], ["y"]], text=False),
            "the PDF has no text to read (2 pages without a text layer: a scan or images only)",
        ),
    ],
    ids=["header-only", "truncated", "empty", "password", "images-only"],
)
def test_unreadable_pdfs_are_one_clear_line(document: bytes, error: str) -> None:
    with pytest.raises(PdfError) as raised:
        read_pdf(document)

    message = str(raised.value)
    assert message.startswith(error) and "\n" not in message and len(message) < 300


def test_a_pdf_is_read_in_a_worker_process(settings: Settings) -> None:
    with Clients(settings) as clients:
        text = clients.read_pdf(report(INTRO, SCOPE))
        with pytest.raises(PdfError, match="protected by a password"):
            clients.read_pdf(encrypted(report(INTRO), user_password="s3cret"))
        assert clients._parsers is not None  # the work went to the pool

    assert GPT4 in text.lines


# ------------------------------------------------------------------------- paragraphs


def test_plain_text_joins_wrapped_lines_and_keeps_list_items_and_headings() -> None:
    text = (
        "# Example Licence\n"
        "\n"
        "You may use the model for any purpose, subject to the\n"
        "conditions below.\n"
        "\n"
        "1. Keep this notice with every copy.\n"
        "2. Do not use the model to break the law, nor help\n"
        "   anyone else do so.\n"
        "- A bullet point\n"
        "---\n"
        "Last line.\n"
    )

    assert extract_plain_text(text).lines == (
        "# Example Licence",
        "You may use the model for any purpose, subject to the conditions below.",
        "1. Keep this notice with every copy.",
        "2. Do not use the model to break the law, nor help anyone else do so.",
        "- A bullet point",
        "Last line.",
    )


def test_rewrapping_a_plain_text_document_changes_nothing() -> None:
    narrow = "The licensor may end this licence\nif you break its terms.\n\nNo warranty.\n"
    wide = "The licensor may end this licence if you break\nits terms.\n\nNo warranty.\n"

    assert extract_plain_text(narrow) == extract_plain_text(wide)


def test_a_word_is_made_whole_only_before_a_lower_case_continuation() -> None:
    assert paragraphs(["the archi-", "tecture and the Llama-", "2 weights"]) == [
        "the architecture and the Llama- 2 weights"
    ]


def test_a_paragraph_without_breaks_is_cut_to_a_bounded_length() -> None:
    lines = ["word " * 20] * 200  # 20,000 characters, never a paragraph break

    cut = paragraphs(lines)

    assert len(cut) > 1 and all(len(p) <= MAX_PARAGRAPH for p in cut)
    assert " ".join(cut).split() == " ".join(lines).split()


# ------------------------------------------------------------------------------ polls


def test_a_new_version_of_a_report_is_a_page_change_and_its_withheld_details(
    db: Database, site: Site
) -> None:
    url = site.put("/report.pdf", report(INTRO, RESULTS), content_type="application/pdf")
    add_page(db, url)
    assert [e.kind for e in events_of(db, poll(db))] == ["source.baselined"]
    site.put("/report.pdf", report(INTRO, SCOPE, RESULTS), content_type="application/pdf")

    changed, withheld = events_of(db, poll(db))

    assert changed.kind == "page.changed"
    assert changed.title == "Page changed: Example-2 Technical Report"
    assert changed.data["added"] == [
        "2 Scope and Limitations of This Report",
        "This report focuses on the capabilities, limitations and safety properties of the model.",
        GPT4,
    ]
    assert changed.data["removed"] == []
    assert withheld.kind == "disclosure.withheld"
    assert withheld.subject == url
    assert withheld.data["cause"] == "page.changed"
    assert withheld.data["sentence"].endswith("training method, or similar.")
    assert withheld.data["dimensions"] == GPT4_DIMENSIONS


def test_the_same_report_set_again_with_other_page_breaks_is_no_change(
    db: Database, site: Site
) -> None:
    site.put("/report.pdf", report(INTRO, SCOPE + RESULTS), content_type="application/pdf")
    add_page(db, site.url("/report.pdf"))
    poll(db)
    site.put("/report.pdf", report(INTRO + SCOPE, RESULTS), content_type="application/pdf")

    assert poll(db).event_ids == []


def test_a_pdf_sent_as_a_download_is_still_read(db: Database, site: Site) -> None:
    site.put("/dl", report(INTRO), content_type="application/octet-stream")
    add_page(db, site.url("/dl"))
    poll(db)
    site.put("/dl", report(INTRO, SCOPE), content_type="application/octet-stream")

    kinds = [e.kind for e in events_of(db, poll(db))]

    assert kinds == ["page.changed", "disclosure.withheld"]


@pytest.mark.parametrize(
    ("document", "error"),
    [
        (b"%PDF-1.5\n1 0 obj <<", "not a readable PDF: "),
        (
            encrypted(report(INTRO), user_password="s3cret"),
            "the PDF is protected by a password: its text cannot be read",
        ),
        (pdf([["x"]], text=False), "the PDF has no text to read"),
    ],
    ids=["broken", "password", "images-only"],
)
def test_an_unreadable_pdf_fails_its_source_clearly(
    db: Database, site: Site, document: bytes, error: str
) -> None:
    add_page(db, site.put("/report.pdf", document, content_type="application/pdf"))

    message = poll_error(db)

    assert message is not None and message.startswith(error)


def test_links_on_a_pdf_are_a_clear_error_at_poll_time(db: Database, site: Site) -> None:
    add_page(db, site.put("/r.pdf", report(INTRO), content_type="application/pdf"), links="a")

    assert poll_error(db) == (
        "a PDF has no links to follow: watch its text instead (a page source without --links)"
    )


def test_sources_add_page_takes_a_pdf_url(cli, site: Site) -> None:
    url = site.put("/paper.pdf", report(INTRO), content_type="application/pdf")

    added = cli("sources", "add", "page", url, "--json")
    polled = cli("poll", "--json")

    assert added.code == 0
    assert json.loads(added.stdout)["kind"] == "page"
    assert polled.code == 0
    (result,) = json.loads(polled.stdout)["results"]
    assert result["status"] == "ok"

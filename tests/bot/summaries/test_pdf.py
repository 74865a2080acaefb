"""The summary as PDF: the same page with its picture, no fetch of anything, and no document text in the log."""
from __future__ import annotations

import io
import logging

import pytest
from pdfminer.high_level import extract_text

from bot.core.record import Note
from bot.summaries import pdf
from bot.summaries.pdf import NoFetching, summary_pdf
from tests.bot.core.builders import CLIENT, THERAPIST, at, ended, joined, started, video
from tests.bot.core.test_timeline import make

NOTE = "Client Qwerty moved to the sofa"
LURES = ['<img src="http://127.0.0.1:9/pixel.png">', '<link rel="stylesheet" href="http://127.0.0.1:9/x.css">', "http://127.0.0.1:9/page"]


def summary(*notes: str) -> dict:
    events = [started(), joined(1, THERAPIST), joined(5, CLIENT), video(60, CLIENT, False), video(200, CLIENT, True), ended(900)]
    return make(*events, notes=[Note(at(100 + n), text) for n, text in enumerate(notes)], client_code="C-17")


@pytest.fixture
def fetches(monkeypatch) -> list[str]:
    """Record every URL WeasyPrint asks for, through the module's own refusing fetcher."""
    asked: list[str] = []
    refuse = NoFetching.fetch

    def counting(self, url, headers=None):
        asked.append(url)
        return refuse(self, url, headers)

    monkeypatch.setattr(NoFetching, "fetch", counting)
    return asked


def test_the_pdf_holds_the_summary_with_its_picture_and_a_notes_words():
    document = summary_pdf(summary(NOTE), "Europe/London")
    assert document.startswith(b"%PDF-")
    text = extract_text(io.BytesIO(document))
    assert NOTE in text and "Client: C-17" in text
    assert "At a glance" in text and "Video off" in text and "10:05" in text  # the picture's row labels and ticks, as text


def test_markup_and_links_in_a_note_fetch_nothing(fetches):
    document = summary_pdf(summary(*LURES), "Europe/London")
    assert fetches == []
    assert "127.0.0.1:9/pixel.png" in extract_text(io.BytesIO(document))  # shown as the words it is


def test_whatever_the_page_asks_for_is_refused(fetches, monkeypatch):
    """The fetcher is the one WeasyPrint uses: a page that does ask for a picture and a stylesheet gets neither."""
    monkeypatch.setattr(pdf, "to_html", lambda summary, zone: "<p>before</p>" + "".join(LURES[:2]) + "<p>after</p>")
    document = summary_pdf({}, "UTC")
    assert sorted(fetches) == ["http://127.0.0.1:9/pixel.png", "http://127.0.0.1:9/x.css"]
    assert "after" in extract_text(io.BytesIO(document))
    with pytest.raises(ValueError):
        NoFetching()("file:///etc/passwd")


def test_rendering_logs_no_document_text_at_debug(caplog):
    caplog.set_level(logging.DEBUG)
    secret = "Zebedee 漢"  # the CJK letter has no glyph in the system's fonts: WeasyPrint would warn, quoting it
    summary_pdf(summary(secret), "Europe/London")
    assert "漢" not in caplog.text and "Zebedee" not in caplog.text
    assert logging.getLogger("fontTools.subset").getEffectiveLevel() >= logging.ERROR

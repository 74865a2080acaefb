"""Render the HTML summary, its timeline picture included, as a PDF for the therapist's records."""
from __future__ import annotations

import logging
from typing import Any

from weasyprint import HTML
from weasyprint.urls import URLFetcher

from bot.core.render import to_html

# WeasyPrint warns with the text it cannot draw, and fontTools lists the glyphs it keeps: neither may write
# a word of a summary to the log, at any level the service runs at.
for _name in ("weasyprint", "weasyprint.progress", "fontTools"):
    logging.getLogger(_name).setLevel(logging.ERROR)


class NoFetching(URLFetcher):
    """Refuse every URL: the summary is self-contained, and rendering it must never reach the network or the disk."""

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> Any:
        raise ValueError("the summary fetches nothing")


def summary_pdf(summary: dict[str, Any], zone: str) -> bytes:
    """Return the summary as PDF bytes (CPU-bound and synchronous: run it in an executor)."""
    # No @font-face in the page: fonts come from the system, through fontconfig.
    return HTML(string=to_html(summary, zone), url_fetcher=NoFetching()).write_pdf()

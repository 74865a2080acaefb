"""The summary page, with its timeline picture, and the summary's downloads as Markdown, HTML and PDF."""
from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from markupsafe import Markup

from bot.core.pseudonyms import client_label
from bot.core.render import sections, to_html, to_markdown
from bot.core.settings import Therapist
from bot.core.timeline import timeline_svg

from .. import keys
from . import live
from .rendering import page

# A download is a document of its own: it may style itself, but it runs nothing and loads nothing.
DOWNLOAD_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; sandbox"
routes = web.RouteTableDef()


async def shown_summary(request: web.Request, names: bool = False) -> tuple[Therapist, dict[str, Any]]:
    """Return the signed-in therapist and their session's summary: people by role, no topic, and names only if asked."""
    return await live.owned_summary(request, names)


@routes.get("/sessions/{session_id}/summary")
async def summary_page(request: web.Request) -> web.Response:
    # The page is the therapist's own screen: names if they opted in. Its downloads are for the
    # record and for supervision: never names.
    therapist, summary = await shown_summary(request, request.app[keys.SETTINGS].privacy.show_names)
    zone = therapist.timezone
    return await page(
        request, "summary.html", therapist, session_id=summary["session_id"], client=client_label(summary), zone=zone,
        in_progress=summary["status"] == "in_progress", sections=sections(summary, zone),
        picture=Markup(timeline_svg(summary, zone)),  # built from escaped text by the core
    )


def _download(request: web.Request, body: bytes, extension: str, content_type: str) -> web.Response:
    name = f"summary-{request.match_info['session_id']}.{extension}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Content-Security-Policy": DOWNLOAD_POLICY}
    return web.Response(body=body, content_type=content_type, charset="utf-8" if extension != "pdf" else None, headers=headers)


@routes.get("/sessions/{session_id}/summary.md")
async def summary_markdown(request: web.Request) -> web.Response:
    therapist, summary = await shown_summary(request)
    return _download(request, to_markdown(summary, therapist.timezone).encode(), "md", "text/markdown")


@routes.get("/sessions/{session_id}/summary.html")
async def summary_html(request: web.Request) -> web.Response:
    therapist, summary = await shown_summary(request)
    return _download(request, to_html(summary, therapist.timezone).encode(), "html", "text/html")


@routes.get("/sessions/{session_id}/summary.pdf")
async def summary_pdf_download(request: web.Request) -> web.Response:
    from bot.summaries.pdf import summary_pdf  # WeasyPrint takes half a second to load: at the first PDF, not at every start

    therapist, summary = await shown_summary(request)
    # Laying out a PDF takes a CPU for a while: off the event loop, so live pages and webhooks go on.
    pdf = await asyncio.get_running_loop().run_in_executor(None, summary_pdf, summary, therapist.timezone)
    return _download(request, pdf, "pdf", "application/pdf")

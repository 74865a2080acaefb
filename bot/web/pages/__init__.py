"""The therapist's private pages: templates, static files and routes, set up on the app."""
from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from . import checklists, clients, home, live, sign_in, summary_page

STATIC = Path(__file__).parent.parent / "static"
PAGE_MODULES = (sign_in, home, checklists, live, summary_page, clients)


def setup(app: web.Application) -> None:
    """Add the pages, their templates (every value escaped) and their static files."""
    aiohttp_jinja2.setup(app, loader=jinja2.PackageLoader("bot.web", "templates"), autoescape=True, undefined=jinja2.StrictUndefined)
    app.router.add_static("/static/", STATIC)
    for module in PAGE_MODULES:
        app.router.add_routes(module.routes)

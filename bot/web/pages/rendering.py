"""Render a page for the signed-in therapist, with the CSRF token its forms and scripts send back."""
from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.core.settings import Therapist

from ..signed_in import cookie_session, csrf_token


async def page(request: web.Request, template: str, therapist: Therapist | None, status: int = 200, **context: Any) -> web.Response:
    """Return `template` rendered with `context`, the therapist and the session's CSRF token."""
    session = await cookie_session(request)
    context.update(therapist=therapist, csrf=csrf_token(session) if session is not None else "")
    return aiohttp_jinja2.render_template(template, request, context, status=status)

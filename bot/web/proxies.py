"""Believe X-Forwarded-For and X-Forwarded-Proto from `[server] trusted_proxies` only: the client's address and https behind a proxy."""
from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp_remotes import XForwardedFiltered

from . import keys

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _trusted(peer: str | None, networks: Sequence[IPv4Network | IPv6Network]) -> bool:
    try:
        address = ip_address(peer or "")
    except ValueError:  # a Unix socket's peer, or none
        return False
    return any(address in network for network in networks)


def as_made(request: web.BaseRequest) -> web.BaseRequest:
    """Return the request as the client made it: as a trusted proxy says (address, scheme), else as it arrived."""
    forwarded = request.get(keys.FORWARDED)  # not `or`: a request is a mapping, false while it holds nothing
    return forwarded if forwarded is not None else request


def trusted_proxies(listed: Sequence[str]) -> Middleware | None:
    """Return the middleware that takes the client's address and scheme from a trusted proxy's headers (None: no proxies).

    aiohttp-remotes' XForwardedFiltered reads the headers (the client is the last address not a trusted proxy's);
    it is asked only when the connection itself comes from a trusted proxy: anyone else's headers are ignored,
    so no one can pass for another address (the logs) or for https (HSTS) by sending them.
    """
    if not listed:
        return None
    networks = [ip_network(entry) for entry in listed]
    forwarded = XForwardedFiltered(networks)

    @web.middleware
    async def from_proxies(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not _trusted(request.remote, networks):  # the connection's own peer: no header believed yet
            return await handler(request)

        async def as_forwarded(believed: web.Request) -> web.StreamResponse:
            request[keys.FORWARDED] = believed  # the access log and the answer's headers are handed the request as it arrived
            return await handler(believed)

        return await forwarded.middleware(request, as_forwarded)

    return from_proxies

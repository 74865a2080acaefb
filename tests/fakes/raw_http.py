"""Send a hand-made HTTP/1.1 request on loopback, for bytes no HTTP client library will send."""
from __future__ import annotations

import asyncio


async def raw_request(port: int, method: str, path: bytes, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> tuple[int, bytes]:
    """Return the status and body of one request sent byte for byte to 127.0.0.1:`port`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [method.encode() + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close", b"Content-Length: %d" % len(body)]
    lines += [name + b": " + value for name, value in headers]
    writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    await writer.drain()
    async with asyncio.timeout(10):
        answer = await reader.read()
    writer.close()
    head, _, rest = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), rest

"""Drive signed webhooks at a server with wrk (Debian's package), each request a distinct, pre-signed delivery.

wrk's Lua cannot sign, so the deliveries are signed here and written into a Lua script that wrk
cycles through; the script also counts the answers that were not 200. Used by
bench/webhook_ingest.py with `--wrk`, since its Python load generator tops out near 8,000
requests/s.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

Headers = Callable[[bytes], dict[str, str]]


@dataclass(frozen=True)
class WrkRun:
    """What wrk reported: answers completed, those not 200, socket errors, requests/s and latency percentiles (ms)."""

    completed: int
    not_ok: int
    socket_errors: int
    rps: float
    p50_ms: float
    p99_ms: float


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(raw: str) -> str:
    """Return `raw` as a Lua long string whose brackets it does not contain."""
    level = 0
    while f"]{'=' * level}]" in raw:
        level += 1
    return f"[{'=' * level}[{raw}]{'=' * level}]"


def script(path: str, payloads: list[bytes], headers: Headers) -> str:
    """Return a wrk Lua script sending each of `payloads` once, in order (then again from the first), signed."""
    # Built in init(), once wrk knows the host (wrk.format adds the Host header from it), in functions of a
    # few hundred requests each: one Lua function holds a bounded number of constants.
    lines = ["local requests = {}", "local chunks = {}"]
    for first in range(0, len(payloads), 500):
        lines.append("chunks[#chunks + 1] = function()")
        for raw in payloads[first:first + 500]:
            fields = ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers(raw).items())
            lines.append(f"requests[#requests + 1] = wrk.format('POST', {_lua_string(path)}, {{{fields}}}, {_lua_string(raw.decode())})")
        lines.append("end")
    lines.append("init = function(args) for _, chunk in ipairs(chunks) do chunk() end end")
    lines += [
        "local n = 0",
        "request = function() n = n % #requests + 1; return requests[n] end",
        # response() runs in each thread's Lua state, done() in the main one: it asks the threads for their counts.
        "not_ok = 0",
        "response = function(status) if status ~= 200 then not_ok = not_ok + 1 end end",
        "local threads = {}",
        "setup = function(thread) threads[#threads + 1] = thread end",
        "done = function() local total = 0; for _, t in ipairs(threads) do total = total + t:get('not_ok') end;"
        " io.write(string.format('not_ok %d\\n', total)) end",
    ]
    return "\n".join(lines) + "\n"


def _ms(figure: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", figure).groups()  # type: ignore[union-attr]  # wrk's own format
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse(output: str) -> WrkRun:
    """Return the figures of a `wrk --latency` run with the script's `not_ok` line."""
    completed = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+(\S+)$", output, re.M))
    return WrkRun(
        completed=completed,
        not_ok=int(re.search(r"^not_ok (\d+)$", output, re.M).group(1)),  # type: ignore[union-attr]
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
    )


def run(url: str, payloads: list[bytes], headers: Headers, seconds: float, connections: int) -> WrkRun:
    """Run wrk with one thread and `connections` connections at `url` for `seconds`; return what it reported."""
    path = "/" + url.split("/", 3)[3]
    with tempfile.TemporaryDirectory() as tmp:
        lua = Path(tmp) / "deliveries.lua"
        lua.write_text(script(path, payloads, headers), encoding="utf-8")
        done = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(lua), url],
            capture_output=True, text=True, check=True,
        )
    if "not_ok" not in done.stdout:  # the script failed in wrk's Lua
        raise RuntimeError(f"wrk did not run the script: {done.stderr.strip()[:300]}")
    return parse(done.stdout)

"""An instance's own PostgreSQL connection, outside the pool: the advisory locks it holds and the channels it listens on."""
from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any, Awaitable, Callable, Iterable

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

_LOGGER = logging.getLogger(__name__)
Heard = Callable[[str], None]  # called with a notification's payload
Linked = Callable[[bool], Awaitable[None]]  # told True once (re)connected and listening, False as soon as it is lost
# PostgreSQL refuses a notification's payload of 8,000 bytes or more: longer lists of ids are sent in parts.
MAX_PAYLOAD = 7900
# A connection that gave no answer in this long is taken for lost (its locks may already be another's).
ANSWER_SECONDS = 5.0
# Each link names its instance to the server (application_name): the links alive are the instances alive.
MEMBER_PREFIX = "companion:"
MAX_NAME = 63  # PostgreSQL keeps this many bytes of an application_name
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


def lock_key(name: str) -> int:
    """Return the advisory-lock key (a signed 64-bit number) for a lock named in words: the same on every instance."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


async def notify(connection: AsyncConnection, channel: str, items: Iterable[str]) -> None:
    """Notify `channel` of `items` (comma-joined, in parts) on the connection's transaction: PostgreSQL sends it at
    commit, and never if it rolls back. Nothing on SQLite, where one instance hears its own changes in memory."""
    if connection.dialect.name != "postgresql":
        return
    parts: list[list[str]] = [[]]
    size = 0  # of the last part, joined
    for item in items:
        if parts[-1] and size + 1 + len(item) > MAX_PAYLOAD:
            parts.append([])
        size = len(item) if not parts[-1] else size + 1 + len(item)
        parts[-1].append(item)
    for part in parts:
        if part:
            await connection.execute(_NOTIFY, {"channel": channel, "payload": ",".join(part)})


class ClusterLink:
    """One dedicated connection to the shared PostgreSQL database, checked every `check_seconds` and opened again when lost.

    What is held on it (a session-level advisory lock) lasts exactly as long as it does: the `linked` callbacks
    are told False the moment it is found lost, before it is opened again, and True once it is open and
    listening again (notifications sent in between are gone: a listener reads what it missed from the rows).
    """

    def __init__(self, url: str, check_seconds: float, instance: str = "") -> None:
        self._args = _connect_args(url)
        self._args["server_settings"] = {"application_name": (MEMBER_PREFIX + instance)[:MAX_NAME]}
        self._check_seconds = check_seconds
        self._channels: dict[str, list[Heard]] = {}
        self._linked: list[Linked] = []
        self._connection: Any = None  # an asyncpg connection while linked
        self._lost = asyncio.Event()
        self._asking = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._connection is not None and not self._connection.is_closed() and not self._lost.is_set()

    def listen(self, channel: str, heard: Heard) -> None:
        """Call `heard` with each payload notified on `channel` (set up before `start`)."""
        self._channels.setdefault(channel, []).append(heard)

    def when_linked(self, linked: Linked) -> None:
        """Call `linked(True)` each time the link is open and listening, `linked(False)` each time it is lost."""
        self._linked.append(linked)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._keep(), name="cluster-link")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._close()

    async def try_lock(self, key: int) -> bool:
        """Take session-level advisory lock `key` on the link if no other connection holds it; True if the link holds it now."""
        return bool(await self._ask("SELECT pg_try_advisory_lock($1)", key))

    async def members(self) -> set[str] | None:
        """Return the instances whose links are open on this database now (this one's too), or None if not linked."""
        alive = "SELECT array_agg(application_name) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE $1"
        names = await self._ask(alive, MEMBER_PREFIX + "%")  # never none while linked: this link is one
        return None if names is None else {name[len(MEMBER_PREFIX):] for name in names}

    async def _ask(self, query: str, *args: Any) -> Any:
        """Return the query's one value on the link, or None if it is not linked (then, or now: found lost)."""
        async with self._asking:  # one query at a time on one connection
            connection = self._connection
            if connection is None or not self.connected:
                return None
            try:
                return await asyncio.wait_for(connection.fetchval(query, *args), ANSWER_SECONDS)
            except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
                _LOGGER.warning("the cluster link did not answer (%s): taken for lost", err.__class__.__name__)
                self._lost.set()
                return None

    async def _keep(self) -> None:
        """Open the link, listen, check it every few seconds; when it is lost, say so and open it again."""
        delay = 0.5
        while True:
            try:
                await self._open()
            except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
                _LOGGER.warning("could not open the cluster link (%s): trying again in %.1f s", err.__class__.__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._check_seconds)
                continue
            delay = 0.5
            await self._tell(True)
            while not self._lost.is_set():
                try:
                    await asyncio.wait_for(self._lost.wait(), self._check_seconds)
                except asyncio.TimeoutError:
                    await self._ask("SELECT 1")
            _LOGGER.warning("the cluster link was lost: opening it again")
            await self._close()
            await self._tell(False)

    async def _open(self) -> None:
        self._lost.clear()
        connection = await asyncio.wait_for(asyncpg.connect(**self._args), ANSWER_SECONDS)
        connection.add_termination_listener(self._ended)
        try:
            for channel in self._channels:
                await connection.add_listener(channel, self._heard)
        except BaseException:
            connection.terminate()
            raise
        self._connection = connection

    def _ended(self, connection: Any) -> None:
        if connection is self._connection:  # not an earlier connection's late farewell
            self._lost.set()

    def _heard(self, _connection: Any, _pid: int, channel: str, payload: str) -> None:
        for heard in self._channels.get(channel, ()):
            try:
                heard(payload)
            except Exception:  # one listener's fault must not silence the others
                _LOGGER.exception("a listener of %s failed", channel)

    async def _tell(self, linked: bool) -> None:
        for callback in self._linked:
            try:
                await callback(linked)
            except Exception:
                _LOGGER.exception("a cluster link callback failed")

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            try:
                await asyncio.wait_for(connection.close(), 1.0)
            except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                connection.terminate()


def _connect_args(url: str) -> dict[str, Any]:
    """Return asyncpg's connection arguments for the storage URL (`postgresql+asyncpg://user:password@host:port/db?...`)."""
    parsed = make_url(url)
    args: dict[str, Any] = parsed.translate_connect_args(username="user")
    args.update({k: v for k, v in parsed.query.items() if isinstance(v, str)})  # e.g. ssl=require, as the engine takes it
    return args

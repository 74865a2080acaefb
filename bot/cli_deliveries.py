"""The operator's view of the outbox: `companion deliveries [--failed]` lists them, `deliveries retry ID` sends a failed one again."""
from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

from bot.config.environment import CONFIG_HELP
from bot.core.settings import Settings
from bot.core.timefmt import from_iso, to_iso

if TYPE_CHECKING:  # the storage is imported when a command runs: `companion serve` builds this parser too, and wants its port soon
    from bot.storage.outbox import DeliveryRecord

EXIT_USAGE = 2
COMMANDS = ("deliveries",)
LARGEST_ID = 2**31 - 1  # the database's integer: a larger id names no delivery
COLUMNS = ("id", "notice", "therapist", "session", "kind", "channel", "state", "attempts", "last failure", "raised", "next attempt", "updated")


def add_commands(commands: Any) -> None:
    """Add `deliveries [--failed] [--limit N]` and `deliveries retry ID` to the command line."""
    deliveries = commands.add_parser(
        "deliveries", help="list the deliveries of notices, newest first (ids, kinds, channels, states, reasons; never a text or a name), or retry a failed one"
    )
    deliveries.add_argument("action", nargs="?", choices=("retry",), help="retry: make the failed delivery ID pending again, due now")
    deliveries.add_argument("delivery_id", nargs="?", help="the id of the delivery to retry (the list's first column)")
    deliveries.add_argument("--config", help=CONFIG_HELP)
    deliveries.add_argument("--failed", action="store_true", help="list the failed deliveries only")
    deliveries.add_argument("--limit", type=int, default=50, help="list at most this many (default 50)")


def _time(stamp: str) -> str:
    return to_iso(from_iso(stamp)) or "-"


def _cells(record: DeliveryRecord) -> tuple[str, ...]:
    due = _time(record.next_attempt_at) if record.state == "pending" else "-"
    return (
        str(record.id), str(record.notice_id), record.therapist_id, record.session_id or "-", record.kind, record.channel, record.state,
        str(record.attempts), record.last_error or "-", _time(record.raised_at), due, _time(record.updated_at),
    )


def _table(records: list[DeliveryRecord]) -> list[str]:
    rows = [COLUMNS, *(_cells(record) for record in records)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


async def _list(settings: Settings, failed_only: bool, limit: int) -> list[str]:
    from bot.storage.opened import opened_store
    from bot.storage.outbox import Outbox

    async with opened_store(settings, read_only=True) as store:  # a list never creates or migrates a database
        records, total = await Outbox(store.engine).records(failed_only, limit)
    which = "failed deliveries" if failed_only else "deliveries"
    if not records:
        return [f"no {which}"]
    more = [f"the newest {len(records)} of {total} {which}: --limit N shows more"] if total > len(records) else []
    return _table(records) + more


async def _retry(settings: Settings, delivery_id: int) -> tuple[DeliveryRecord | None, bool]:
    from bot.storage.opened import opened_store
    from bot.storage.outbox import Outbox
    from bot.tracking.tracker import utc_now

    async with opened_store(settings) as store:
        return await Outbox(store.engine).retry_failed(delivery_id, utc_now())


def _retried(record: DeliveryRecord) -> str:
    return (
        f"delivery {record.id} (notice {record.notice_id}, {record.kind}, by {record.channel}, therapist {record.therapist_id}) "
        f"had failed ({record.last_error or 'no reason kept'}): it is pending again, due now, with a fresh round of attempts. "
        "A running service sends it within seconds; if none is running, it goes when the service starts."
    )


def _delivery_id(text: str | None) -> int | None:
    if text is None or not (text.isascii() and text.isdigit()) or not 0 < int(text) <= LARGEST_ID:
        return None
    return int(text)


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run `deliveries` or `deliveries retry ID`; bad input, an unknown id or a delivery that has not failed is exit code 2."""
    if args.action is None:
        if args.delivery_id is not None or args.limit < 1:
            print("companion: deliveries takes no id (retry ID retries one) and --limit must be at least 1", file=sys.stderr)
            return EXIT_USAGE
        print("\n".join(asyncio.run(_list(settings, args.failed, args.limit))))
        return 0
    delivery_id = _delivery_id(args.delivery_id)
    if delivery_id is None or args.failed:
        print("companion: deliveries retry takes one delivery id, a whole number from the list's first column (and no --failed)", file=sys.stderr)
        return EXIT_USAGE
    record, retried = asyncio.run(_retry(settings, delivery_id))
    if record is None:
        print(f"companion: no delivery {delivery_id}: companion deliveries --failed lists the failed ones", file=sys.stderr)
        return EXIT_USAGE
    if not retried:
        print(f"companion: delivery {delivery_id} is {record.state}, not failed: only a failed delivery is retried", file=sys.stderr)
        return EXIT_USAGE
    print(_retried(record))
    return 0

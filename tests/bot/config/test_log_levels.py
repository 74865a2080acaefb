"""The libraries that can quote data log at WARNING, unless the operator names a level for one."""
from __future__ import annotations

import asyncio
import logging
from datetime import timezone

import pytest

from bot.config.log_levels import QUIET_LIBRARIES, configure_logging, quiet_libraries
from bot.core.settings import LoggingSettings

NAMES = (*QUIET_LIBRARIES, "sqlalchemy.engine", "my.own", "")


@pytest.fixture
def levels_restored():
    before = {name: logging.getLogger(name).level for name in NAMES}
    yield
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


def test_the_database_drivers_schedulers_and_http_clients_are_quiet_by_default(levels_restored):
    for name in ("aiosqlite", "sqlalchemy", "asyncpg", "apscheduler", "urllib3", "msal"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    quiet_libraries(LoggingSettings())
    for name in ("aiosqlite", "sqlalchemy.engine", "sqlalchemy.pool", "asyncpg", "apscheduler.executors.default", "urllib3.connectionpool", "msal.application"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING, name


def test_the_operator_may_hear_more_from_a_library_and_sets_the_services_own_level(levels_restored):
    configure_logging(LoggingSettings(level="DEBUG", library_levels=(("sqlalchemy.engine", "INFO"), ("my.own", "ERROR"))))
    assert logging.getLogger().level == logging.DEBUG
    assert logging.getLogger("sqlalchemy.engine").getEffectiveLevel() == logging.INFO
    assert logging.getLogger("sqlalchemy.pool").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("my.own").level == logging.ERROR


def test_the_pdf_libraries_stay_at_error_since_their_warnings_quote_the_text(levels_restored):
    quiet_libraries(LoggingSettings())
    assert logging.getLogger("weasyprint").level == logging.getLogger("fontTools").level == logging.ERROR


async def _run_one_job(scheduler) -> None:
    """Add a job to a started scheduler and return once it has run and APScheduler has said so."""
    from apscheduler.events import EVENT_JOB_EXECUTED

    executed = asyncio.Event()
    scheduler.add_listener(lambda _: executed.set(), EVENT_JOB_EXECUTED)  # dispatched after its "executed" line

    async def job() -> None:
        return None

    scheduler.add_job(job, id="a-job", name="a-job")
    await asyncio.wait_for(executed.wait(), 30)


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_apschedulers_per_job_lines_are_debug_lines_even_when_it_may_speak_at_info(level, levels_restored, caplog):
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    quiet_libraries(LoggingSettings(library_levels=(("apscheduler", level),)))
    caplog.set_level(logging.DEBUG)
    scheduler = AsyncIOScheduler(timezone=timezone.utc)
    scheduler.start()
    try:
        await _run_one_job(scheduler)
    finally:
        scheduler.shutdown(wait=False)
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("apscheduler")]
    assert ("INFO", "Scheduler started") in lines
    chatter = [(levelname, message.split(" ")[0]) for levelname, message in lines if message.startswith(("Added job", "Running job", 'Job "'))]
    # Below INFO: heard only by an operator who asks for APScheduler's DEBUG lines.
    assert chatter == ([] if level == "INFO" else [("DEBUG", "Added"), ("DEBUG", "Running"), ("DEBUG", "Job")])

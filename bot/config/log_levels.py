"""Set the log levels: the service's own at `[logging] level`, and at WARNING or above every library whose lines can quote data."""
from __future__ import annotations

import logging

from bot.core.settings import LoggingSettings

from .log_format import formatter

# Below WARNING these write what passes through them: SQL and its parameters (aiosqlite, sqlalchemy,
# asyncpg), jobs with their arguments (apscheduler), URLs with their queries and token exchanges
# (urllib3, requests, msal), and encodings guessed from bodies (charset_normalizer). WeasyPrint warns
# with the text it cannot draw and fontTools lists glyphs: ERROR for those (bot/summaries/pdf.py).
# aiohttp's own server loggers are not here: bot/web/logs.py filters them.
QUIET_LIBRARIES = {
    **dict.fromkeys(("aiosqlite", "sqlalchemy", "asyncpg", "apscheduler", "urllib3", "requests", "charset_normalizer"), "WARNING"),
    **dict.fromkeys(("msal", "aiohttp.client", "aiohttp_session", "PIL", "absl"), "WARNING"),
    # Alembic says at INFO which dialect it found and each revision it runs: the store logs the migration once itself.
    "alembic": "WARNING",
    **dict.fromkeys(("weasyprint", "fontTools"), "ERROR"),
}
# APScheduler says at INFO whenever a job is added, removed, run or done: every few seconds with due work.
# The operator who lets it speak at INFO (library_levels) hears its start, stop and missed runs; this, at DEBUG.
JOB_CHATTER = ("Added job", "Adding job tentatively", "Removed job", "Running job", 'Job "')
JOB_LOGGERS = ("apscheduler.scheduler", "apscheduler.executors.default")


class JobChatter(logging.Filter):
    """Move APScheduler's per-job lines to DEBUG: dropped unless its logger is set to DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not str(record.msg).startswith(JOB_CHATTER):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def quiet_libraries(settings: LoggingSettings) -> None:
    """Set each library logger to its quiet level, or to the level the operator named for it in `library_levels`."""
    chosen = dict(settings.library_levels)
    for name, quiet in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(chosen.pop(name, quiet))
    for name, level in chosen.items():  # any other logger the operator names
        logging.getLogger(name).setLevel(level)
    for name in JOB_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, JobChatter) for f in logger.filters):
            logger.addFilter(JobChatter())


def configure_logging(settings: LoggingSettings) -> None:
    """Log to standard error at `[logging] level` in `[logging] format`, with the libraries quietened (a command's or the service's start)."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(settings.format))
    logging.basicConfig(level=settings.level, handlers=[handler])
    logging.getLogger().setLevel(settings.level)
    quiet_libraries(settings)

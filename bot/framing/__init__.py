"""The framing analysis of the client's video: a process pool of models, and the sink that stores what changes."""
from __future__ import annotations

import logging

from bot.core.settings import Settings
from bot.tracking.evaluation import EvaluationQueue
from bot.tracking.tracker import SessionTracker

from .analyzer import FramingAnalyzer, vision_stack_missing
from .sink import FramingSink

_LOGGER = logging.getLogger(__name__)
__all__ = ["FramingAnalyzer", "FramingSink", "framing_sink", "vision_stack_missing"]


def framing_sink(settings: Settings, tracker: SessionTracker, evaluation: EvaluationQueue) -> FramingSink | None:
    """Return the sink that analyses the client's frames, or None (saying why) when the analysis cannot or should not run."""
    if not settings.framing.enabled:
        _LOGGER.info("framing analysis is off ([framing] enabled = false)")
        return None
    if missing := vision_stack_missing():
        _LOGGER.warning(
            "framing analysis is OFF: the vision stack is not installed (missing %s; pip install -e '.[framing]'). "
            "Camera changes and the therapist's own framing notes still work.",
            ", ".join(missing),
        )
        return None
    analyzer = FramingAnalyzer(settings.framing.workers, settings.framing.analysis_timeout_seconds)
    return FramingSink(analyzer, settings.framing, tracker, evaluation)

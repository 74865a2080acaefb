"""The typed keys of everything the web application owns."""
from __future__ import annotations

from aiohttp import web

from .evaluation import EvaluationQueue
from .notices import NoticeBoard
from .settings import Settings
from .store import Store
from .tracking import Clock, SessionTracker

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
STORE = web.AppKey("store", Store)
BOARD = web.AppKey("board", NoticeBoard)
TRACKER = web.AppKey("tracker", SessionTracker)
EVALUATION = web.AppKey("evaluation", EvaluationQueue)

"""The typed app keys of what the Zoom platform runs: its meeting sync and RTMS streams (tests and the demo read them)."""
from __future__ import annotations

from aiohttp import web

from .rtms import RtmsTiming, StreamManager
from .sync import MeetingSync

MEETING_SYNC = web.AppKey("zoom_meeting_sync", MeetingSync)
RTMS = web.AppKey("zoom_rtms_streams", StreamManager)
RTMS_TIMING = web.AppKey("zoom_rtms_timing", RtmsTiming)  # set before start-up to shrink delays in tests

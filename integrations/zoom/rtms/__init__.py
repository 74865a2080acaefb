"""Zoom Realtime Media Streams: the client's camera on/off and video frames, live, over WebSocket."""
from .connection import Credentials, RtmsRefused, StreamAddress, StreamLost
from .lifecycle import Backoff, RtmsTiming
from .streams import StreamManager, rtms_http

__all__ = ["Backoff", "Credentials", "RtmsRefused", "RtmsTiming", "StreamAddress", "StreamLost", "StreamManager", "rtms_http"]

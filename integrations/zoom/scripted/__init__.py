"""Scripted Zoom for the demo, the tests and the benchmarks: signed webhooks and an RTMS server."""

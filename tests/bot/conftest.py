"""Fixtures for the service's tests: fake Zoom and Graph on loopback, settings aimed at them, a clock."""
from tests.fakes.fixtures import alert_settings, clock, fake_graph, fake_zoom, tls  # noqa: F401

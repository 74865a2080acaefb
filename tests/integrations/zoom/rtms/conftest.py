"""The fake RTMS server fixture for the RTMS tests."""
from tests.fakes.rtms_server import rtms_server  # noqa: F401  (a fixture, used by name)

"""Teams adapter fixtures: fake Entra (HTTPS) and Graph on loopback."""
from tests.fakes.fixtures import fake_graph, tls  # noqa: F401

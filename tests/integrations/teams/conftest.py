"""Teams adapter fixtures: fake Entra (HTTPS), Graph and the Bot Framework on loopback."""
from tests.fakes.fixtures import fake_graph, tls  # noqa: F401
from tests.fakes.graph_calls import bot_framework, graph_calls  # noqa: F401

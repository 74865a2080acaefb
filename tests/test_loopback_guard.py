"""The suite's own guard: a test that reaches beyond loopback fails."""
import socket

import pytest


def test_connecting_beyond_loopback_fails_the_test():
    with socket.socket() as sock, pytest.raises(AssertionError, match="reached for the network"):
        sock.connect(("192.0.2.1", 443))
    with pytest.raises(AssertionError, match="reached for the network"):
        socket.getaddrinfo("api.zoom.us", 443)

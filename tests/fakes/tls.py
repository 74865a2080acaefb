"""A throwaway certificate for 127.0.0.1, so fakes can serve HTTPS where a client insists on it (msal): the demo's own."""
from integrations.teams.scripted.tls import loopback_certificate, trusting

__all__ = ["loopback_certificate", "trusting"]

"""Scripted Microsoft for the demo and the tests: Entra over HTTPS, Graph, and notifications as Graph sends them."""

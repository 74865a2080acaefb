"""Zoom: webhooks in, RTMS video state, and the REST API out."""

"""Send each notice to the therapist's channels, with retries, at most once per channel."""

"""The web face: the app factory, its typed keys, the JSON API and the notice stream."""

"""Read the operator's files: the settings and the checklist."""

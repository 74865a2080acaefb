"""Microsoft Teams: private alerts through the Graph activity feed (more of Teams arrives later)."""

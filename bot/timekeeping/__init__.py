"""Wake due work at its time: reminders, video-off checks, watchdogs."""

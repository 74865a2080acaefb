"""The pure core: meeting state, checklist, alert and timer rules, summaries; no I/O, time passed in."""

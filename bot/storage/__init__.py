"""The database: sessions and their events, due work, notices, deliveries, checklist ticks."""

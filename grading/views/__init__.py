"""The assessor pages (server-rendered; small scripts in static/js enhance them). One module per area."""

"""The terminal front end: `sessionbot chat` and the admin commands for personas and sessions."""

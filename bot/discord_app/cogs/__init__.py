"""One cog per slash-command group: `/session ...` and `/persona ...`."""

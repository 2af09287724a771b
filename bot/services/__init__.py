"""The long-running services, `sessionbot run` and `sessionbot serve`: they start the front ends.

This is wiring, above the front ends: the Discord bot and the HTTP API never import each other,
and the terminal commands import neither.
"""

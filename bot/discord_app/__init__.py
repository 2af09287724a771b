"""The Discord front end: discord.py client, slash-command cogs and streamed replies.

Named `discord_app` so that it never shadows the `discord` library.
"""

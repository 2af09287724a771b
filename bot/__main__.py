"""`python -m bot` is the `sessionbot` command."""

import sys

from bot.cli import main

sys.exit(main())

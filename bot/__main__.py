"""`python -m bot` is the `sessionbot` command."""

import sys

from bot.main import main

sys.exit(main())

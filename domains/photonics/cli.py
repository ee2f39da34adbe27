"""Every command the photonics package adds to `specialist`, gathered for the entry point.

The entry-point group ``specialist.commands`` names ``COMMANDS`` here (see pyproject.toml); each
module below holds a few commands and their options.
"""

from __future__ import annotations

from domains.photonics import commands

COMMANDS = {**commands.COMMANDS}

"""Every command the photonics package adds to `specialist`, gathered for the entry point.

The entry-point group ``specialist.commands`` names ``COMMANDS`` here (see pyproject.toml); each
module below holds a few commands and their options.
"""

from __future__ import annotations

from domains.photonics import commands, design_commands, simulate_command
from domains.photonics import analysis_commands

COMMANDS = {**simulate_command.COMMANDS, **commands.COMMANDS, **design_commands.COMMANDS}
COMMANDS.update(analysis_commands.COMMANDS)

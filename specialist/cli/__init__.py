"""The `specialist` command line (``main``); see ``specialist.cli.registry``."""

from specialist.cli.registry import build_parser, main

__all__ = ["build_parser", "main"]

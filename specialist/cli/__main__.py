"""``python -m specialist.cli``: the same as the `specialist` command."""

import sys

from specialist.cli.registry import main

sys.exit(main())

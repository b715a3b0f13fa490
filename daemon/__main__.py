"""``python -m digitwatch.daemon``: the ``digitwatch`` command (what the tests run)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

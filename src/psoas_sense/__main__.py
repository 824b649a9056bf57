"""``python -m psoas_sense`` and the ``psoas-sense`` console script."""

from __future__ import annotations

import sys

from psoas_sense.cli import main as _cli_main


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command line and return its exit status."""
    return _cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())

"""``python -m psoas_sense`` and the ``psoas-sense`` console script: the command line, with the
terminal UI to run when both ends are a terminal.

The two front ends never import each other (``lint-imports``); this entry point, above both,
hands the command line the way to start the terminal UI (loaded only when it runs, so
``--help`` and the quick commands start without Textual).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from psoas_sense.cli import main as _cli_main

if TYPE_CHECKING:
    from psoas_sense.session.choices import StartOptions
    from psoas_sense.session.setup import RunConfig


def run_tui(config: RunConfig | None, start: StartOptions | None = None) -> int:
    """The terminal UI on a configured run (None: the start screen asks, and its runs take
    ``start``); the coach starts after the safety check. Returns the exit status."""
    from psoas_sense.ui.app import make_app

    app = make_app(config, start_options=start)
    rc = app.run()
    app.audio.close()
    return int(rc or 0)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command line and return its exit status."""
    return _cli_main(argv, tui=run_tui)


if __name__ == "__main__":
    sys.exit(main())

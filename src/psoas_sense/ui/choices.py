"""What the start screen hands back to the app: :mod:`psoas_sense.session.choices`, where the
command line builds the same objects (the terminal UI and the command line never import each
other)."""

from psoas_sense.session.choices import StartChoice, StartOptions, config_for

__all__ = ["StartChoice", "StartOptions", "config_for"]

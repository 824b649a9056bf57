"""psoas-sense: breathing and hold tracker for guided psoas self-massage."""

__version__ = "0.1.0"

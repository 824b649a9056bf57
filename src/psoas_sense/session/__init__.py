"""A session at the edge: the one loop, its sinks (printer, recorder, history), commands and setup."""

"""A bare Textual app that shows one screen, for the screen tests and their snapshots."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.screen import Screen


class Host(App[None]):
    """Pushes one screen at start and records what it dismisses with."""

    def __init__(self, make_screen: Callable[[], Screen[Any]]) -> None:
        super().__init__()
        self.animation_level = "none"
        self.make_screen = make_screen
        self.results: list[Any] = []

    def on_mount(self) -> None:
        self.push_screen(self.make_screen(), callback=self.results.append)

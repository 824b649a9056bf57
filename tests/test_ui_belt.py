"""The start screen offers a breathing belt: a scan lists one with what it streams; ``b`` runs the
emulated one."""

from __future__ import annotations

from textual.widgets import OptionList

from psoas_sense.sources.clock import VirtualClock
from psoas_sense.sources.emulator import EmulatedBleakScanner, make_emulated, parse_emulator_spec
from psoas_sense.ui.choices import StartChoice
from psoas_sense.ui.screens.start import StartScreen
from screen_host import Host


def belt_host() -> Host:
    belt = make_emulated(parse_emulator_spec("emulated:gdx-rb?rssi=-58"), VirtualClock(None))
    return Host(lambda: StartScreen(scanner_backend=EmulatedBleakScanner, scanner_kwargs={"devices": [belt]},
                                    scan_round_s=0.05, scan_rounds=2))


async def test_a_scan_lists_the_belt_and_picks_it() -> None:
    app = belt_host()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        straps = app.screen.query_one("#straps", OptionList)
        prompt = str(straps.get_option_at_index(0).prompt)
        assert straps.option_count == 1 and "GDX-RB 0K9E0001" in prompt
        assert "breathing belt force" in prompt and "the belt's breathing rate" in prompt
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [StartChoice("strap", device="C0:FF:EE:00:00:5B", protocol="manual")]


async def test_b_runs_the_emulated_belt() -> None:
    app = belt_host()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("b")
        await pilot.pause()
    assert app.results == [StartChoice("emulated", device="emulated:gdx-rb", protocol="manual")]

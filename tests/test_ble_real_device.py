"""Optional tests against a real strap: they run only with ``--ble-device ADDRESS|NAME``.

Wear the strap (wet electrodes) and keep it close. A Polar H10 also gets its accelerometer checked;
allow about a minute.
"""

from __future__ import annotations

import pytest

from psoas_sense.decode import NotificationDecoder
from psoas_sense.model import AccFrame, Notification, RRFrame, Status
from psoas_sense.sources.devices import open_device_source


def _device(request: pytest.FixtureRequest) -> str:
    value = request.config.getoption("--ble-device", default=None)
    if not value:
        pytest.skip("needs a real strap: run with --ble-device ADDRESS|NAME")
    return str(value)


@pytest.mark.ble_device
async def test_real_strap_streams_hr_rr_and_acc(request: pytest.FixtureRequest) -> None:
    spec = _device(request)
    src = open_device_source(spec, reconnect_timeout_s=20.0)
    dec = NotificationDecoder()
    states: list[str] = []
    rr = acc = 0
    async with src:
        has_acc = "acc" in src.header.streams
        async for t, item in src:
            if isinstance(item, Status):
                states.append(item.state)
            elif isinstance(item, Notification):
                for f in dec.decode(item):
                    rr += isinstance(f, RRFrame)
                    acc += isinstance(f, AccFrame)
            if t > (60.0 if has_acc else 20.0) or (rr >= 5 and (acc >= 20 or not has_acc)):
                break
    assert states[:2] == ["connecting", "connected"]
    assert rr >= 5, "no RR intervals: is the strap worn with wet electrodes?"
    if has_acc:
        assert "waiting_for_acc" in states and acc >= 20
    assert dec.errors == 0, dec.last_error

"""The client side of the Polar PMD control point: one request at a time, and the ACC choice.

:class:`ControlPoint` writes a request and waits for the indication that answers it (the same
op code and measurement type), skipping the BlueZ echo of a feature read and device-side stop
notices. :func:`choose_acc_settings` is the pure choice of what to ask the accelerometer for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from bleak import BleakClient

from psoas_sense.decode import pmd
from psoas_sense.decode.pmd.const import MEASUREMENT_TYPE_MASK
from psoas_sense.errors import DecodeError, PsoasError
from psoas_sense.sources.clock import Clock

CP_TIMEOUT_S = 10.0
"""Wait this long for a control-point response (bleakheart uses 10 s, the Polar SDK 30 s)."""


class ControlPoint:
    """Requests on the PMD control point, one at a time.

    The notification callback hands every control-point indication to :meth:`feed`.
    """

    def __init__(self) -> None:
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._lock = asyncio.Lock()

    def feed(self, data: bytes) -> None:
        """An indication from the control point (called from the notification callback)."""
        self._queue.put_nowait(data)

    async def request(self, client: BleakClient, request: bytes, clock: Clock) -> pmd.CpResponse:
        """Write one CP request and wait (on ``clock``, :data:`CP_TIMEOUT_S`) for its response.

        Raises:
            TimeoutError: no response in time.
        """
        async with self._lock:
            while not self._queue.empty():
                self._queue.get_nowait()
            await client.write_gatt_char(pmd.PMD_CONTROL_POINT_UUID, request, response=True)

            async def answer() -> pmd.CpResponse:
                while True:
                    data = await self._queue.get()
                    try:
                        msg = pmd.parse_cp_message(data)
                    except DecodeError:
                        continue
                    # ignore the BlueZ echo of a feature read and device-side stop notices
                    if (
                        isinstance(msg, pmd.CpResponse)
                        and msg.op_code == request[0]
                        and msg.measurement_type == (request[1] & MEASUREMENT_TYPE_MASK)
                    ):
                        return msg

            return await clock.wait_for(answer(), CP_TIMEOUT_S)

    async def start_acc(self, client: BleakClient, clock: Clock, rate_hz: int, range_g: int) -> dict[str, int] | None:
        """Start the accelerometer: read the features, query the settings, start with every one.

        A stream left running (by an earlier session or a dropped link) is stopped and started
        again.

        Returns:
            The settings started with, or None when the strap's PMD offers no accelerometer.

        Raises:
            PsoasError: the strap refused the query or the start.
            TimeoutError: the control point did not answer.
        """
        features = pmd.parse_features(bytes(await client.read_gatt_char(pmd.PMD_CONTROL_POINT_UUID)))
        if "acc" not in features.measurements:
            return None
        resp = await self.request(client, pmd.get_settings_request(pmd.ACC), clock)
        if not resp.ok:
            raise PsoasError(f"the strap refused the accelerometer settings query ({resp.status_name})")
        chosen = choose_acc_settings(resp.settings, rate_hz, range_g)
        start = pmd.start_request(pmd.ACC, chosen)
        resp = await self.request(client, start, clock)
        if resp.status == pmd.CpStatus.ERROR_ALREADY_IN_STATE:
            await self.request(client, pmd.stop_request(pmd.ACC), clock)
            resp = await self.request(client, start, clock)
        if not resp.ok:
            raise PsoasError(f"the strap refused to start the accelerometer ({resp.status_name})")
        return chosen


def choose_acc_settings(offered: Mapping[str, tuple[float, ...]], rate_hz: int, range_g: int) -> dict[str, int]:
    """One value per offered setting: the highest rate <= ``rate_hz``, the range nearest
    ``range_g``, the highest resolution and channel count. Pure."""
    chosen: dict[str, int] = {}
    rates = sorted(int(r) for r in offered.get("sample_rate", ()) or (rate_hz,))
    ok = [r for r in rates if r <= rate_hz]
    chosen["sample_rate"] = ok[-1] if ok else rates[0]
    if offered.get("resolution"):
        chosen["resolution"] = int(max(offered["resolution"]))
    if offered.get("range"):
        chosen["range"] = int(min(offered["range"], key=lambda g: (abs(g - range_g), -g)))
    if offered.get("channels"):
        chosen["channels"] = int(max(offered["channels"]))
    return chosen

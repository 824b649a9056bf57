"""UDP streams: CSV accelerometer lines from apps such as HyperIMU or Sensorstream IMU+GPS.

``udp:PORT``: each datagram is ``[timestamp,] ax, ay, az[, ...]`` in m/s²; listens on PORT.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from psoas_sense.errors import PsoasError
from psoas_sense.sources.phone.base import MS2_TO_MG, _QueueSource

LOSS_CHECK_S = 1.0
"""How often the source looks for a silent phone."""
EPOCH_MS_ABOVE = 1e11
"""Timestamps above this are epoch milliseconds (else seconds)."""
SENSORSTREAM_ACC_ID = 3.0
"""Sensorstream IMU+GPS tags accelerometer values with this sensor id."""


def parse_udp_line(text: str) -> tuple[float | None, tuple[float, float, float]] | None:
    """``[timestamp,] ax, ay, az[, ...]`` in m/s²; HyperIMU's ``#`` line ends are accepted."""
    parts = [p.strip() for p in text.replace("#", "").replace(";", ",").split(",") if p.strip()]
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        return None
    if len(vals) == 3:
        return None, (vals[0], vals[1], vals[2])
    if len(vals) >= 4:
        # Sensorstream IMU+GPS: timestamp, 3 (accelerometer id), x, y, z, ...
        if len(vals) >= 5 and vals[1] == SENSORSTREAM_ACC_ID:
            return vals[0], (vals[2], vals[3], vals[4])
        return vals[0], (vals[1], vals[2], vals[3])
    return None


class UdpSource(_QueueSource):
    """Receives CSV accelerometer lines over UDP on a port the user chose."""

    def __init__(self, port: int, *, host: str = "0.0.0.0", clock: Callable[[], float] = time.monotonic) -> None:  # noqa: S104 - the phone is on the LAN
        self.port = port
        self.host = host
        super().__init__(clock=clock)
        self._transport: asyncio.DatagramTransport | None = None
        self.bad_datagrams = 0

    def describe(self) -> str:
        return f"UDP on port {self.port}"

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        source = self

        class Proto(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                source._datagram(data)

        try:
            transport, _ = await loop.create_datagram_endpoint(Proto, local_addr=(self.host, self.port))
        except OSError as exc:
            raise PsoasError(f"cannot listen on UDP port {self.port}: {exc.strerror or exc}") from None
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    def _datagram(self, data: bytes) -> None:
        rows_t: list[float] = []
        rows: list[tuple[float, float, float]] = []
        host_t = self.now_s()
        for line in data.decode("utf-8", "replace").splitlines():
            got = parse_udp_line(line)
            if got is None:
                if line.strip():
                    self.bad_datagrams += 1
                continue
            ts, acc = got
            rows_t.append(host_t if ts is None else ts)
            rows.append(acc)
        if rows:
            t = np.asarray(rows_t, dtype=np.float64)
            if t.max() > EPOCH_MS_ABOVE:
                t = t / 1000.0
            self.put_samples(t, np.asarray(rows) * MS2_TO_MG)

    async def _stop(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def _produce(self) -> None:
        while True:
            await asyncio.sleep(LOSS_CHECK_S)
            self.check_lost()


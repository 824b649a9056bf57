"""UDP streams: CSV accelerometer lines from apps such as HyperIMU or Sensorstream IMU+GPS.

``udp:PORT`` listens on 127.0.0.1:PORT; ``udp:0.0.0.0:PORT`` on every interface, and then each
line must start with the session token printed on stderr: ``TOKEN,[timestamp,] ax, ay, az``.
A line is ``[timestamp,] ax, ay, az[, ...]`` in m/s². Lines that are malformed, non-finite, beyond
16 g, stamped absurdly or without the token are dropped, counted and reported in a throttled
status line; nothing in a datagram can end the session.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from psoas_sense.errors import PsoasError
from psoas_sense.sources.phone.base import MS2_TO_MG, _QueueSource
from psoas_sense.sources.phone.listen import (
    LOOPBACK_HOST,
    is_loopback,
    new_token,
    print_to_stderr,
    token_ok,
    where,
)
from psoas_sense.sources.phone.validate import MAX_ACC_MS2, MAX_EPOCH_S, Refused

EPOCH_MS_ABOVE = 1e11
"""Timestamps above this are epoch milliseconds (else seconds)."""
SENSORSTREAM_ACC_ID = 3.0
"""Sensorstream IMU+GPS tags accelerometer values with this sensor id."""
REORDER_S = 0.2
"""How long samples wait for datagrams that overtook each other."""
UNTIMED_LINE_STEP_S = 1e-3
"""Spacing given to the lines of one datagram that carry no timestamp."""


def parse_udp_line(text: str) -> tuple[float | None, tuple[float, float, float]] | None:
    """``[timestamp,] ax, ay, az[, ...]`` in m/s²; HyperIMU's ``#`` line ends are accepted.

    Returns None for a line that is malformed, non-finite, beyond 16 g or stamped outside
    0..year 2100 (seconds, or epoch milliseconds above :data:`EPOCH_MS_ABOVE`).
    """
    parts = [p.strip() for p in text.replace("#", "").replace(";", ",").split(",") if p.strip()]
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        return None
    ts: float | None = None
    if len(vals) == 3:
        acc = (vals[0], vals[1], vals[2])
    elif len(vals) >= 5 and vals[1] == SENSORSTREAM_ACC_ID:
        # Sensorstream IMU+GPS: timestamp, 3 (accelerometer id), x, y, z, ...
        ts, acc = vals[0], (vals[2], vals[3], vals[4])
    elif len(vals) >= 4:
        ts, acc = vals[0], (vals[1], vals[2], vals[3])
    else:
        return None
    if not all(math.isfinite(v) for v in acc) or math.hypot(*acc) > MAX_ACC_MS2:
        return None
    if ts is not None and not 0.0 <= (ts / 1000.0 if ts > EPOCH_MS_ABOVE else ts) <= MAX_EPOCH_S:
        return None  # NaN fails the comparison too
    return ts, acc


class UdpSource(_QueueSource):
    """Receives CSV accelerometer lines over UDP on a port the user chose.

    Args:
        port: the port (0: any free one; ``port`` holds the real one once entered).
        host: the address to listen on (loopback unless asked otherwise).
        clock: monotonic seconds (tests inject one).
        token: the line prefix to ask for; made afresh off loopback when none is given.
        announce: how the token is shown to the user (stderr by default).
    """

    def __init__(
        self,
        port: int,
        *,
        host: str = LOOPBACK_HOST,
        clock: Callable[[], float] = time.monotonic,
        token: str | None = None,
        announce: Callable[[str], None] = print_to_stderr,
    ) -> None:
        self.port = port
        self.host = host
        self.token = token if token is not None or is_loopback(host) else new_token()
        """The prefix every line must carry, or None on loopback."""
        super().__init__(clock=clock, reorder_s=REORDER_S)
        self._announce = announce
        self._transport: asyncio.DatagramTransport | None = None
        self.bad_datagrams = 0
        """Lines dropped (any reason)."""

    def name(self) -> str:
        return f"UDP on port {self.port}"

    def describe(self) -> str:
        return f"UDP {where(self.host, self.port, self.token)}"

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        source = self

        class Proto(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                source.datagram(data)

            def error_received(self, exc: Exception) -> None:
                source.refuse(Refused("socket error", 0), with_code=False)

        try:
            transport, _ = await loop.create_datagram_endpoint(Proto, local_addr=(self.host, self.port))
        except OSError as exc:
            raise PsoasError(f"cannot listen on UDP {self.host} port {self.port}: {exc.strerror or exc}") from None
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        if self.token is not None:
            self._announce(
                f"psoas-sense: UDP listens on {self.host}:{self.port}; session token {self.token}\n"
                f"  start every line with '{self.token},' (lines without it are dropped)"
            )

    def datagram(self, data: bytes) -> None:
        """Take one datagram: its valid lines are kept, the others dropped and counted."""
        try:
            self._datagram(data)
        except Exception:  # noqa: BLE001 - nothing a client sends may end the session
            self._drop("internal error on a datagram")

    def _drop(self, reason: str, n: int = 1) -> None:
        self.bad_datagrams += n
        self.refuse(Refused(reason, 0), n, with_code=False)

    def _datagram(self, data: bytes) -> None:
        host_t = self.now_s()
        rows_t: list[float] = []
        rows: list[tuple[float, float, float]] = []
        lines = [ln for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
        for i, line in enumerate(lines):
            if self.token is not None:
                given, sep, line = line.partition(",")
                if not sep or not token_ok(given.strip(), self.token):
                    self._drop("lines without the token")
                    continue
            got = parse_udp_line(line)
            if got is None:
                self._drop("malformed, non-finite or out-of-range lines")
                continue
            ts, acc = got
            if ts is None:
                rows_t.append(host_t - (len(lines) - 1 - i) * UNTIMED_LINE_STEP_S)
            else:
                rows_t.append(ts / 1000.0 if ts > EPOCH_MS_ABOVE else ts)
            rows.append(acc)
        if rows:
            try:
                self.accept(np.asarray(rows_t, dtype=np.float64), np.asarray(rows) * MS2_TO_MG)
            except Refused as exc:
                self._drop(exc.reason, len(rows))

    async def _stop(self) -> None:
        if self._transport is not None:
            self._transport.close()

"""Sensor Logger HTTP push: the phone POSTs JSON batches to a port opened here.

``sensorlogger:PORT``: psoas-sense listens on PORT (on all interfaces, since the phone is on the
network; only because you asked for it). Enable "HTTP Push" with ``http://<this computer>:PORT/``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import numpy as np

from psoas_sense.errors import PsoasError
from psoas_sense.sources.phone.base import HTTP_TIMEOUT_S, MAX_BODY_BYTES, MS2_TO_MG, _QueueSource

LOSS_CHECK_S = 1.0
"""How often the source looks for a silent phone."""


ACC_NAMES = ("totalacceleration", "accelerometer")
"""Payload sensor names carrying acceleration (with gravity preferred)."""


def parse_sensor_logger(body: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Times (integer ns, phone epoch) and acceleration (mG) from one Sensor Logger push batch."""
    obj = json.loads(body)
    payload = obj.get("payload", []) if isinstance(obj, dict) else []
    by_name: dict[str, list[tuple[int, float, float, float]]] = {}
    for rec in payload:
        if not isinstance(rec, dict):
            continue
        name = str(rec.get("name", "")).lower()
        if name not in ACC_NAMES:
            continue
        vals = rec.get("values", {})
        try:
            row = (int(rec["time"]), float(vals["x"]), float(vals["y"]), float(vals["z"]))
        except (KeyError, TypeError, ValueError):
            continue
        by_name.setdefault(name, []).append(row)
    for name in ACC_NAMES:
        rows = by_name.get(name)
        if rows:
            t_ns = np.asarray([r[0] for r in rows], dtype=np.int64)
            acc = np.asarray([r[1:] for r in rows], dtype=np.float64)
            return t_ns, acc * MS2_TO_MG
    return np.zeros(0, dtype=np.int64), np.zeros((0, 3))


class SensorLoggerSource(_QueueSource):
    """Receives Sensor Logger HTTP push batches on a port the user chose."""

    def __init__(self, port: int, *, host: str = "0.0.0.0", clock: Callable[[], float] = time.monotonic) -> None:  # noqa: S104 - the phone is on the LAN
        self.port = port
        self.host = host
        super().__init__(clock=clock)
        self._server: asyncio.base_events.Server | None = None
        self._base_ns: int | None = None
        self.batches = 0

    def describe(self) -> str:
        return f"Sensor Logger push on port {self.port}"

    async def _start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._handle, self.host, self.port)
        except OSError as exc:
            raise PsoasError(f"cannot listen on port {self.port}: {exc.strerror or exc}") from None
        sock = self._server.sockets[0] if self._server.sockets else None
        if sock is not None:
            self.port = sock.getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        status = b"200 OK"
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HTTP_TIMEOUT_S)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v.strip())
            if length > MAX_BODY_BYTES:
                status = b"413 Payload Too Large"
            else:
                body = await asyncio.wait_for(reader.readexactly(length), HTTP_TIMEOUT_S)
                t_ns, acc = parse_sensor_logger(body)
                self.batches += 1
                if t_ns.size:
                    if self._base_ns is None:
                        self._base_ns = int(t_ns.min())
                    # relative to the first sample, in float seconds without losing precision
                    self.put_samples((t_ns - self._base_ns).astype(np.float64) * 1e-9, acc)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            status = b"400 Bad Request"
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        try:
            await writer.drain()
        finally:
            writer.close()

    async def _produce(self) -> None:
        while True:
            await asyncio.sleep(LOSS_CHECK_S)
            self.check_lost()


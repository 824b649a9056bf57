"""Sensor Logger HTTP push: the phone POSTs JSON batches to a port opened here.

``sensorlogger:PORT`` listens on 127.0.0.1:PORT (apps on this computer only);
``sensorlogger:0.0.0.0:PORT`` listens on every interface, for a phone on the network, and then
asks for the session token printed on stderr: in Sensor Logger's HTTP Push, add the header
``Authorization: Bearer TOKEN`` or use the URL ``http://<this computer>:PORT/?token=TOKEN``.

Each request is answered for what happened to it: 200 means every sample in it was kept and
will reach the session; otherwise 401 (no token), 400 (not JSON, too deep), 411, 413 (over
1 MiB), 422 (wrong types, non-finite or out-of-range values, absurd or stray timestamps, too
late), 503 (overloaded: more requests at once or more samples waiting than the bounds allow),
408 (too slow). Every refusal is counted and reported in a throttled status line.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from psoas_sense.errors import PsoasError
from psoas_sense.sources.phone.base import HTTP_TIMEOUT_S, MS2_TO_MG, _QueueSource
from psoas_sense.sources.phone.httpio import MAX_HEAD_BYTES, RequestHead, read_head, reply
from psoas_sense.sources.phone.listen import (
    LOOPBACK_HOST,
    is_loopback,
    new_token,
    print_to_stderr,
    token_ok,
    where,
)
from psoas_sense.sources.phone.validate import (
    MAX_EPOCH_S,
    MIN_EPOCH_S,
    Refused,
    check_acc_ms2,
    load_json,
    number,
)

ACC_NAMES = ("totalacceleration", "accelerometer")
"""Payload sensor names carrying acceleration (with gravity preferred)."""
REORDER_S = 0.5
"""How long pushed samples wait for batches that overtook each other in flight."""
MAX_CONNECTIONS = 32
"""Requests with the token handled at once; more are answered 503. A request counts only once
its token is checked: clients without it never take a place from the phone."""
MAX_UNREAD = 256
"""Connections whose request head is not read yet; beyond, the oldest is closed (a flood
of idle connections gives way to new ones, so the phone's next request gets through)."""


def parse_sensor_logger(body: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Times (integer ns, phone epoch) and acceleration (mG) from one Sensor Logger push batch.

    Raises:
        Refused: the body is not a valid batch; nothing of it may be kept.
    """
    obj = load_json(body)
    if not isinstance(obj, dict):
        raise Refused("not a JSON object", 422)
    payload = obj.get("payload", [])
    if not isinstance(payload, list):
        raise Refused("'payload' is not a list", 422)
    by_name: dict[str, list[tuple[int, float, float, float]]] = {}
    for rec in payload:
        if not isinstance(rec, dict) or not isinstance(rec.get("name"), str):
            raise Refused("a payload record without a name", 422)
        name = rec["name"].lower()
        if name in ACC_NAMES:
            by_name.setdefault(name, []).append(_acc_record(rec))
    for name in ACC_NAMES:
        rows = by_name.get(name)
        if rows:
            t_ns = np.asarray([r[0] for r in rows], dtype=np.int64)
            acc = np.asarray([r[1:] for r in rows], dtype=np.float64)
            check_acc_ms2(acc)
            return t_ns, acc * MS2_TO_MG
    return np.zeros(0, dtype=np.int64), np.zeros((0, 3))


def _acc_record(rec: dict[str, Any]) -> tuple[int, float, float, float]:
    t = rec.get("time")
    if isinstance(t, float):
        t = int(number(t, "time"))
    if isinstance(t, bool) or not isinstance(t, int):
        raise Refused("time is not a number", 422)
    if not MIN_EPOCH_S * 1e9 <= t <= MAX_EPOCH_S * 1e9:
        raise Refused("time outside 2000-2100 (epoch ns)", 422)
    vals = rec.get("values")
    if not isinstance(vals, dict):
        raise Refused("'values' is not an object", 422)
    return t, number(vals.get("x"), "x"), number(vals.get("y"), "y"), number(vals.get("z"), "z")


class SensorLoggerSource(_QueueSource):
    """Receives Sensor Logger HTTP push batches on a port the user chose.

    Args:
        port: the port (0: any free one; ``port`` holds the real one once entered).
        host: the address to listen on (loopback unless asked otherwise).
        clock: monotonic seconds (tests inject one).
        token: the token to ask for; made afresh when ``host`` is not loopback and none is given.
        announce: how the token is shown to the user (stderr by default).
        deadline_s: the longest a whole request may take.
    """

    def __init__(
        self,
        port: int,
        *,
        host: str = LOOPBACK_HOST,
        clock: Callable[[], float] = time.monotonic,
        token: str | None = None,
        announce: Callable[[str], None] = print_to_stderr,
        deadline_s: float = HTTP_TIMEOUT_S,
    ) -> None:
        self.port = port
        self.host = host
        self.token = token if token is not None or is_loopback(host) else new_token()
        """The token every request must carry, or None on loopback."""
        super().__init__(clock=clock, reorder_s=REORDER_S)
        self._announce = announce
        self._deadline_s = deadline_s
        self._server: asyncio.Server | None = None
        self._base_ns: int | None = None
        self._active = 0
        self._unread: dict[asyncio.StreamWriter, None] = {}
        """Connections waiting for their request head, oldest first."""
        self.batches = 0
        """Requests answered 200."""

    def name(self) -> str:
        return f"Sensor Logger push on port {self.port}"

    def describe(self) -> str:
        return f"Sensor Logger push {where(self.host, self.port, self.token)}"

    async def _start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._handle, self.host, self.port, limit=MAX_HEAD_BYTES)
        except OSError as exc:
            raise PsoasError(f"cannot listen on {self.host} port {self.port}: {exc.strerror or exc}") from None
        sock = self._server.sockets[0] if self._server.sockets else None
        if sock is not None:
            self.port = sock.getsockname()[1]
        if self.token is not None:
            self._announce(
                f"psoas-sense: Sensor Logger push listens on {self.host}:{self.port}; session token {self.token}\n"
                f"  in Sensor Logger > HTTP Push use http://<this computer>:{self.port}/?token={self.token}\n"
                f"  or add the header 'Authorization: Bearer {self.token}'; requests without it are refused"
            )

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._unread[writer] = None
        while len(self._unread) > MAX_UNREAD:  # the oldest idle connection gives way
            oldest = next(iter(self._unread))
            del self._unread[oldest]
            self.refuse(Refused("connections closed before their request (flood)", 503))
            with contextlib.suppress(Exception):
                oldest.transport.abort()
        try:
            try:
                async with asyncio.timeout(self._deadline_s):
                    code, text = await self._answer(reader, writer)
            except TimeoutError:
                code, text = 408, "request too slow"
                self.refuse(Refused(text, code))
            except (asyncio.IncompleteReadError, ConnectionError):
                return  # the client went away: nothing was kept, no one to answer
            extra: tuple[tuple[str, str], ...] = (("WWW-Authenticate", "Bearer"),) if code == 401 else ()
            extra += (("Retry-After", "1"),) if code == 503 else ()
            await reply(writer, reader, code, text, extra)
        except Exception:  # noqa: BLE001 - nothing a client sends may end the session
            self.refuse(Refused("internal error on a request", 500))
            with contextlib.suppress(Exception):
                await reply(writer, reader, 500, "internal error; nothing kept")
        finally:
            self._unread.pop(writer, None)
            writer.close()

    async def _answer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None = None
    ) -> tuple[int, str]:
        counted = False
        try:
            head = await read_head(reader)
            if writer is not None:
                self._unread.pop(writer, None)
            if not token_ok(head.bearer() or head.query("token"), self.token):
                raise Refused("no valid token", 401)  # before it counts against any limit
            self._active += 1
            counted = True
            if self._active > MAX_CONNECTIONS:
                raise Refused("too many requests at once", 503)
            if head.method != "POST":
                raise Refused("only POST is accepted", 405)
            length = head.content_length()
            if writer is not None and head.headers.get("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits a second without it
            body = await reader.readexactly(length)
            self._take(head, body)
        except Refused as exc:
            self.refuse(exc)
            return exc.http_status, exc.reason
        finally:
            if counted:
                self._active -= 1
        self.batches += 1
        return 200, "kept"

    def _take(self, head: RequestHead, body: bytes) -> None:
        t_ns, acc = parse_sensor_logger(body)
        if not t_ns.size:
            return
        if self._base_ns is None:
            self._base_ns = int(t_ns.min())
        # relative to the first sample, in float seconds without losing precision
        self.accept((t_ns - self._base_ns).astype(np.float64) * 1e-9, acc)

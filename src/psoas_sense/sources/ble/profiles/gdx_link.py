"""The host side of Go Direct commands: one command in flight, 20-byte writes, replies matched.

A command frame goes out in writes of at most 20 bytes (write without response) on the command
characteristic; the reply comes as notifications on the response characteristic, reassembled by
its length byte with the checksum verified, and is matched on (command, counter), as Vernier's
own clients match it. Measurement packets and replies to anything else are skipped. Every write
is also handed to ``record`` (the recording keeps the host's side, so a replay knows the period).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bleak import BleakClient

from psoas_sense.decode import gdx
from psoas_sense.decode.gdx.const import COUNTER_START, MEASUREMENT
from psoas_sense.errors import DecodeError, PsoasError
from psoas_sense.sources.clock import Clock

COMMAND_TIMEOUT_S = 5.0
"""A reply must come within this long (Vernier's clients wait 5 s) ..."""
SLOW_COMMAND_TIMEOUT_S = 8.0
"""... except GET_DEVICE_INFO, which took 4-7 s on a real Go Direct device."""
MAX_PENDING = 256
"""Notifications held for the command in flight at most (the rest are dropped: never unbounded)."""


class GdxCommandError(PsoasError):
    """The belt refused a command or answered something unusable."""


class GdxCommandLink:
    """Go Direct commands over one link, one at a time.

    Args:
        record: called with (characteristic, bytes) for every write, before it is written.
    """

    def __init__(self, record: Callable[[str, bytes], None]) -> None:
        self._record = record
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(MAX_PENDING)
        self._lock = asyncio.Lock()
        self._assembler = gdx.FrameAssembler()
        self._waiting = False
        self.counter = COUNTER_START
        """The rolling counter of the last command sent (0xFF before INIT)."""

    def reset(self) -> None:
        """A new link: the counter starts again at INIT; partial frames are forgotten."""
        self.counter = COUNTER_START
        self._assembler.reset()
        while not self._queue.empty():
            self._queue.get_nowait()

    def feed(self, data: bytes) -> None:
        """A notification of the response characteristic (from the callback): held only while a
        command waits for its reply."""
        if self._waiting and not self._queue.full():
            self._queue.put_nowait(bytes(data))

    async def command(
        self, client: BleakClient, clock: Clock, command: int, payload: bytes = b"", timeout_s: float | None = None
    ) -> gdx.Reply:
        """Send one command and wait (on ``clock``) for its reply.

        Raises:
            TimeoutError: no reply in time.
        """
        if timeout_s is None:
            timeout_s = SLOW_COMMAND_TIMEOUT_S if command == gdx.Command.GET_DEVICE_INFO else COMMAND_TIMEOUT_S
        async with self._lock:
            self.counter = (self.counter - 1) & 0xFF
            counter = self.counter
            frame = gdx.command_frame(command, counter, payload)
            while not self._queue.empty():
                self._queue.get_nowait()
            self._assembler.reset()
            self._waiting = True
            try:
                for chunk in gdx.write_chunks(frame):
                    self._record(gdx.COMMAND_UUID, chunk)
                    await client.write_gatt_char(gdx.COMMAND_UUID, chunk, response=False)

                async def answer() -> gdx.Reply:
                    while True:
                        data = await self._queue.get()
                        frames, _ = self._assembler.feed(data)
                        for f in frames:
                            if f[0] == MEASUREMENT:
                                continue
                            try:
                                reply = gdx.parse_reply(f)
                            except DecodeError:
                                continue
                            if reply.command == command and reply.counter == counter:
                                return reply

                return await clock.wait_for(answer(), timeout_s)
            finally:
                self._waiting = False

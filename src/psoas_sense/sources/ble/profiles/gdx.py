"""The Vernier Go Direct Respiration Belt (GDX-RB) profile, native on bleak and asyncio.

Set-up, as Vernier's own JS client opens a device: notifications on the response
characteristic, INIT, GET_STATUS (firmware, battery), GET_DEVICE_INFO (order code, serial),
the default and available channel masks, sensor info for the force and respiration-rate
channels, SET_MEASUREMENT_PERIOD (100 ms by default, down to 50 ms), then START for Force and
Respiration Rate. Tear-down: STOP, then DISCONNECT. A belt whose measurements stop while the link
holds is restarted once (STOP, START); a link that drops is reconnected by the source.

The force is the breathing signal (``resp`` in the recording header, in newtons): a belt's force
rises on the inhale, so its polarity is known and no calibration is needed. The belt's own
respiration rate goes beside ours (NaN until it has a 30 s window).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from bleak import BleakClient
from bleak.backends.service import BleakGATTServiceCollection
from bleak.exc import BleakError

from psoas_sense.decode import gdx
from psoas_sense.decode.gdx.const import MEASUREMENT, RB_ORDER_CODE, STATUS_OK, Channel
from psoas_sense.errors import DecodeError, PsoasError
from psoas_sense.sources.ble.profiles.base import DeviceProfile, ProfileHost
from psoas_sense.sources.ble.profiles.gdx_link import GdxCommandError, GdxCommandLink
from psoas_sense.sources.ble.profiles.hrs import BLUEZ_NOTIFY
from psoas_sense.vocab import LinkState

log = logging.getLogger(__name__)

STALL_S = 5.0
"""Measurements silent this long while the link holds: stop and start them once; silent as long
again after that: drop the link and reconnect."""
MEASUREMENT_START = bytes([MEASUREMENT])
"""The first byte of a notification that starts a measurement packet."""
STOP_TIMEOUT_S = 1.0
"""STOP and DISCONNECT on exit wait this long each for their reply."""
BELT_PERIODS_US = (50_000, 100_000)
"""Periods psoas-sense asks a belt for: 20 Hz or 10 Hz."""


def belt_period_us(rate_hz: float) -> int:
    """The measurement period for a wanted rate: 10 Hz unless 20 Hz is asked for (the belt's range)."""
    return gdx.MIN_PERIOD_US if rate_hz >= 15 else gdx.DEFAULT_PERIOD_US


class GdxProfile(DeviceProfile):
    """A Vernier Go Direct Respiration Belt."""

    name = "gdx"
    setup_rank = 2
    notify_uuids = (gdx.RESPONSE_UUID,)
    scan_streams = ("force", "device_rate")
    emulators = {"gdx-rb": "psoas_sense.sources.emulator.gdx:EmulatedGdxRb"}

    def __init__(self) -> None:
        self.link: GdxCommandLink | None = None
        self.period_us = gdx.DEFAULT_PERIOD_US
        self.mask = gdx.BREATH_MASK
        self.last_data_s: float | None = None
        """When measurements last came, or the last (re)start (the stall clock)."""
        self.last_packet_s: float | None = None
        """When a measurement packet last came (kept across reconnects)."""
        self.streaming = False
        self._stall_reported = False
        self.status_bits = 0

    # ------------------------------------------------------------ discovery

    def advertised(self, service_uuids: set[str], name: str) -> bool:
        # the name is what Vernier's clients filter on (no source shows the service advertised)
        return name.upper().startswith(RB_ORDER_CODE)

    def scan_channels(self, name: str) -> list[dict[str, Any]]:
        return [{"channel": int(ch), "name": label, "unit": unit} for ch, (label, unit) in gdx.RB_CHANNELS.items()]

    def present(self, services: BleakGATTServiceCollection) -> bool:
        return (
            services.get_characteristic(gdx.COMMAND_UUID) is not None
            and services.get_characteristic(gdx.RESPONSE_UUID) is not None
        )

    def header_streams(self, host: ProfileHost) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {
            "resp": {"unit": "N", "rate_hz": 1e6 / self.period_us, "quantity": "force", "channel": int(Channel.FORCE),
                     "inhale": "rises"},
        }
        if self.mask & (1 << Channel.RESPIRATION_RATE):
            out["device_rate"] = {"unit": "bpm", "quantity": "respiration rate",
                                  "channel": int(Channel.RESPIRATION_RATE)}
        return out

    # ------------------------------------------------------------ link

    def reset(self) -> None:
        self.streaming = False
        if self.link is not None:
            self.link.reset()

    def on_notify(self, uuid: str, data: bytes, t_s: float) -> None:
        if self.link is not None:
            self.link.feed(data)
        if data[:1] == MEASUREMENT_START:
            self.last_data_s = t_s
            self._stall_reported = False
            self.last_packet_s = t_s

    async def subscribe(self, host: ProfileHost, client: BleakClient) -> None:
        if self.link is None:
            self.link = GdxCommandLink(host.record_write)
        self.link.reset()
        await client.start_notify(gdx.RESPONSE_UUID, host.notify_callback, bluez=BLUEZ_NOTIFY)

    async def _command(self, host: ProfileHost, client: BleakClient, command: int, payload: bytes = b"") -> gdx.Reply:
        assert self.link is not None
        return await self.link.command(client, host.clock, command, payload)

    async def start(self, host: ProfileHost, client: BleakClient, reported: bool) -> bool:
        """INIT, status, device info, masks, sensor info, period, START."""
        C = gdx.Command
        await self._command(host, client, C.INIT, gdx.INIT_PAYLOAD)
        try:
            status = gdx.parse_status((await self._command(host, client, C.GET_STATUS)).payload)
            self.status_bits = status.status_bits
            host.info["battery_pct"] = status.battery_pct
            host.info.setdefault("firmware", status.main_firmware)
            info = gdx.parse_device_info((await self._command(host, client, C.GET_DEVICE_INFO)).payload)
            host.info["model"] = info.order_code or host.info.get("model", "")
            if info.serial:
                host.info["serial"] = info.serial
            gdx.parse_mask((await self._command(host, client, C.GET_DEFAULT_MASK)).payload)
            available = gdx.parse_mask((await self._command(host, client, C.GET_AVAILABLE_MASK)).payload)
        except DecodeError as exc:
            raise GdxCommandError(f"the belt's answer could not be read: {exc}") from exc
        if not available & (1 << Channel.FORCE):
            raise GdxCommandError(f"this Go Direct device has no force channel (channels {available:#x}): "
                                  "is it a respiration belt (GDX-RB)?")
        sensors = {}
        for ch in (Channel.FORCE, Channel.RESPIRATION_RATE):
            if available & (1 << ch):
                reply = await self._command(host, client, C.GET_SENSOR_INFO, gdx.sensor_info_payload(ch))
                with contextlib.suppress(DecodeError):
                    sensors[ch] = gdx.parse_sensor_info(reply.payload)
        force = sensors.get(Channel.FORCE)
        if force is not None and force.present and force.unit and force.unit != "N":
            raise GdxCommandError(f"channel 1 of this Go Direct device is {force.description!r} in {force.unit!r}, "
                                  "not a belt's force in N: is it a respiration belt (GDX-RB)?")
        period = max(int(host.belt_period_us), gdx.MIN_PERIOD_US)
        if force is not None and force.present and force.min_period_us > 0:
            period = max(period, force.min_period_us)
        self.period_us = period
        await self._command(host, client, C.SET_MEASUREMENT_PERIOD, gdx.period_payload(period))
        self.mask = gdx.BREATH_MASK & available
        await self._start_measurements(host, client)
        rate = "and its own breathing rate" if self.mask & (1 << Channel.RESPIRATION_RATE) else "(no rate channel)"
        host.status(LinkState.STREAMING, f"belt force at {1e6 / period:g} Hz {rate}")
        return True

    async def _start_measurements(self, host: ProfileHost, client: BleakClient) -> None:
        reply = await self._command(host, client, gdx.Command.START_MEASUREMENTS, gdx.start_payload(self.mask))
        if reply.status not in (None, STATUS_OK):
            raise GdxCommandError(f"the belt refused to start measuring (status {reply.status})")
        self.streaming = True
        self.last_data_s = host.clock.now()

    async def stop(self, host: ProfileHost, client: BleakClient) -> None:
        if self.link is None or not self.streaming:
            return
        self.streaming = False
        for command, payload in ((gdx.Command.STOP_MEASUREMENTS, gdx.stop_payload()), (gdx.Command.DISCONNECT, b"")):
            with contextlib.suppress(Exception):
                await self.link.command(client, host.clock, command, payload, timeout_s=STOP_TIMEOUT_S)

    async def watch(self, host: ProfileHost, client: BleakClient | None, now_s: float) -> str | None:
        if not self.streaming or self.last_data_s is None:
            return None
        if self.last_packet_s is not None and now_s - self.last_packet_s > host.reconnect_timeout_s:
            return f"no measurement from the belt for {now_s - self.last_packet_s:.0f} s; gave up (is it worn and on?)"
        silent_s = now_s - self.last_data_s
        if silent_s <= STALL_S:
            return None
        if self._stall_reported:
            return "reconnect"  # restarted once already, still silent
        if client is None or not client.is_connected:
            return None
        self._stall_reported = True
        host.status(LinkState.STREAMING, f"belt silent for {silent_s:.0f} s; measurements restarted")
        try:
            assert self.link is not None
            await self.link.command(client, host.clock, gdx.Command.STOP_MEASUREMENTS, gdx.stop_payload())
            await self._start_measurements(host, client)
        except (PsoasError, BleakError, TimeoutError) as exc:
            log.warning("restarting the belt's measurements failed: %s", exc)
        return None

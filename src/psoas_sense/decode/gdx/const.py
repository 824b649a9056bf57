"""The numbers of Vernier's Go Direct ("D2PIO") BLE protocol, as enums and constants.

Sources (see ``firmware_notes/gdx-respiration-belt.md``): Vernier's BSD-licensed
``@vernier/godirect`` (JS, ``src/Device.js``, ``src/constants.js``) and GDXLib (Arduino,
``GDXLib.cpp``), an independent MIT client for the GDX-RB (espruino BangleApps
``apps/vernierrespirate/app.js``) with two frames captured from a real belt, and issue threads.
Nothing here comes from the GPL ``godirect`` Python package.
"""

from __future__ import annotations

import enum

SERVICE_UUID = "d91714ef-28b9-4f91-ba16-f0d9a604f112"
"""The Go Direct (D2PIO) service."""
COMMAND_UUID = "f4bf14a6-c7d5-4b6d-8aa8-df1a7c83adcb"
"""Command characteristic: the host writes command frames to it (write without response)."""
RESPONSE_UUID = "b41e6675-a329-40e0-aa01-44d2f444babe"
"""Response characteristic: the device notifies command replies and measurement packets on it."""

NAME_PREFIX = "GDX"
"""Every Go Direct device advertises ``"<order code> <serial>"``; hosts filter on this prefix."""
RB_ORDER_CODE = "GDX-RB"
"""The Go Direct Respiration Belt's order code (the first word of its name)."""

COMMAND_HEADER = 0x58
"""Byte 0 of every host-to-device frame."""
MEASUREMENT = 0x20
"""Byte 0 of a device-to-host measurement packet; any other value is a command reply."""
REPLY_TYPE = 0x98
"""Byte 0 of a reply as a real GDX-RB sent one (captured; a GDX-LC also sent 0xB8). Clients
never check it."""
HEADER_BYTES = 4
"""``[type or 0x58] [length] [counter] [checksum]`` start every frame."""
MIN_COMMAND_FRAME = 5
"""A command frame is at least the header and the command byte."""
MIN_REPLY_FRAME = 6
"""A reply is at least the header, the echoed command and the echoed counter."""
MAX_FRAME = 255
"""The length byte caps a frame at 255 bytes."""
WRITE_CHUNK_BYTES = 20
"""Hosts write a command frame in pieces of at most 20 bytes (fits the default 23-byte MTU);
the device reassembles them by the length byte."""
COUNTER_START = 0xFF
"""The host's rolling counter at INIT; it is decremented before each command (INIT goes out with
0xFE), wrapping as a byte."""

INIT_PAYLOAD = bytes.fromhex("a54a0649074808470946" "0a450b440c430d420e41")
"""The 20 fixed bytes every host sends after the INIT command byte (JS ``constants.js``, the same
literal in Scratch's GDX-FOR extension and the BangleApps client)."""


class Command(enum.IntEnum):
    """Command bytes (GDXLib ``GDXLib.cpp``, godirect-js ``constants.js``)."""

    GET_STATUS = 0x10
    START_MEASUREMENTS = 0x18
    STOP_MEASUREMENTS = 0x19
    INIT = 0x1A
    SET_MEASUREMENT_PERIOD = 0x1B
    CLEAR_ERROR_FLAGS = 0x34
    GET_SENSOR_INFO = 0x50
    GET_AVAILABLE_MASK = 0x51
    DISCONNECT = 0x54
    GET_DEVICE_INFO = 0x55
    GET_DEFAULT_MASK = 0x56
    IDENTIFY = 0x58
    GET_BATTERY_LEVEL = 0x78


KNOWN_COMMANDS = frozenset(int(c) for c in Command)
"""A reply echoes one of these in byte 4 (used to find where a frame starts)."""


class MeasurementType(enum.IntEnum):
    """Byte 4 of a measurement packet (GDXLib, godirect-js ``constants.js``)."""

    NORMAL_REAL32 = 0x06
    WIDE_REAL32 = 0x07
    SINGLE_CHANNEL_REAL32 = 0x08
    SINGLE_CHANNEL_INT32 = 0x09
    APERIODIC_REAL32 = 0x0A
    APERIODIC_INT32 = 0x0B
    START_TIME = 0x0C
    DROPPED = 0x0D
    PERIOD = 0x0E


TIMING_TYPES = frozenset({MeasurementType.START_TIME, MeasurementType.DROPPED, MeasurementType.PERIOD})
"""Timing packets: no public source gives their layout; every host drops them (so do we, counted)."""


class Channel(enum.IntEnum):
    """The GDX-RB's channels (its available mask 0x36, captured)."""

    FORCE = 1
    """Belt tension, newtons; rises on the inhale."""
    RESPIRATION_RATE = 2
    """Breaths per minute computed on the belt (30 s window, 10 s steps); NaN until it has one."""
    STEPS = 4
    STEP_RATE = 5


RB_CHANNELS: dict[int, tuple[str, str]] = {
    Channel.FORCE: ("Force", "N"),
    Channel.RESPIRATION_RATE: ("Respiration Rate", "bpm"),
    Channel.STEPS: ("Steps", "steps"),
    Channel.STEP_RATE: ("Step Rate", "spm"),
}
"""Channel -> (description, unit), as two users printed them from real belts."""
RB_AVAILABLE_MASK = 0x36
"""Channels 1, 2, 4 and 5 (captured reply ``98 0a 01 27 51 fd 36 00 00 00``)."""
RB_DEFAULT_MASK = 0x06
"""Force and Respiration Rate: the manual calls them the defaults; not captured [inf]."""
BREATH_MASK = (1 << Channel.FORCE) | (1 << Channel.RESPIRATION_RATE)
"""What psoas-sense starts: the force (the breathing signal) and the belt's own rate."""

DEFAULT_PERIOD_US = 100_000
"""The belt's typical period: 10 Hz."""
MIN_PERIOD_US = 50_000
"""The fastest the belt goes: 20 Hz (Vernier's spec as users quote it)."""
STATUS_OK = 0
"""Byte 6 of a START or STOP reply when it worked."""


class StatusBit(enum.IntFlag):
    """Byte 6 of the GET_STATUS reply (GDXLib)."""

    COMMAND_NOT_RECOGNIZED = 0x01
    COMMAND_IGNORED = 0x02
    ADC_UNCALIBRATED = 0x04
    AUTO_ID_UNCALIBRATED = 0x08
    INTERNAL_ERROR_1 = 0x10
    INTERNAL_ERROR_2 = 0x20
    MASTER_FIFO_OVERFLOW = 0x40
    DIGITAL_TRANSITION_LOST = 0x80


CHARGER_STATES = {0: "idle", 1: "charging", 2: "complete", 3: "error"}
"""Byte 17 of the GET_STATUS reply."""

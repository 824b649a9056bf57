"""Phone IMU sources: phyphox remote access (polled), Sensor Logger HTTP push, UDP streams.

A phone lying on the chest or belly is a good breathing sensor. Three ways in, all without extra
dependencies:

- ``phyphox:HOST[:PORT]``: phyphox's remote-access web server on the phone (port 8080 on
  Android, 80 on iPhones). psoas-sense polls ``/get`` incrementally on ``acc_time`` (only
  samples newer than the last one), about 10 times a second; no port is opened here. Open the
  "Acceleration with g" experiment, enable remote access, press play.
- ``sensorlogger:PORT``: Sensor Logger pushes JSON batches by HTTP POST to this computer;
  psoas-sense listens on PORT (on all interfaces, since the phone is on the network; only
  because you asked for it). Enable "HTTP Push" with ``http://<this computer>:PORT/``.
- ``udp:PORT``: apps that stream CSV lines over UDP (HyperIMU, Sensorstream IMU+GPS): each
  datagram is ``[timestamp,] ax, ay, az[, ...]`` in m/s²; listens on PORT.

Modules: :mod:`.base` (the shared queue, time mapping and clock), :mod:`.phyphox`,
:mod:`.sensor_logger` and :mod:`.udp`; the old names are re-exported here. Every source has a
``clock`` (a :class:`~psoas_sense.sources.clock.Clock`) giving the session seconds it stamps
its items with.

Samples are converted to mG and stamped in session seconds: phone sample times are mapped onto
the host clock once, at the first batch, so the phone's own spacing is kept.
"""


from __future__ import annotations

import urllib.parse

from psoas_sense.errors import PsoasError
from psoas_sense.sources.phone.base import (
    HTTP_TIMEOUT_S,
    LOST_AFTER_S,
    MAX_BODY_BYTES,
    MS2_TO_MG,
    SourceClock,
    _QueueSource,
)
from psoas_sense.sources.phone.phyphox import POLL_INTERVAL_S, PhyphoxSource
from psoas_sense.sources.phone.sensor_logger import ACC_NAMES, SensorLoggerSource, parse_sensor_logger
from psoas_sense.sources.phone.udp import UdpSource, parse_udp_line

PHYPHOX_DEFAULT_PORT = 8080
"""phyphox's remote-access port on Android (an iPhone uses 80: give it)."""

PHONE_HELP = """\
phone sources:
  phyphox:HOST[:PORT]   poll phyphox remote access (default port 8080; iPhone: 80)
  sensorlogger:PORT     receive Sensor Logger HTTP push on PORT (opens that port)
  udp:PORT              receive CSV accelerometer lines over UDP on PORT (opens that port)"""
"""Help text of the phone specs (part of ``--device`` help)."""


def open_phone_source(spec: str) -> _QueueSource | None:
    """A phone source for ``phyphox:...``, ``sensorlogger:PORT`` or ``udp:PORT``; None otherwise."""
    kind, sep, rest = spec.partition(":")
    if not sep:
        return None
    kind = kind.lower()
    if kind == "phyphox":
        target = rest.lstrip("/")
        if not target:
            raise PsoasError("phyphox needs the phone's address, e.g. phyphox:192.168.1.20:8080")
        if "://" not in rest:
            target = "http://" + target
        else:
            target = rest
        parsed = urllib.parse.urlparse(target)
        if parsed.port is None:
            target = f"{parsed.scheme}://{parsed.hostname}:{PHYPHOX_DEFAULT_PORT}"
        return PhyphoxSource(target)
    if kind in ("sensorlogger", "udp"):
        try:
            port = int(rest)
        except ValueError:
            raise PsoasError(f"{kind} needs a port number, e.g. {kind}:8000") from None
        if not 0 <= port <= 65535:
            raise PsoasError(f"port {port} is out of range")
        return SensorLoggerSource(port) if kind == "sensorlogger" else UdpSource(port)
    return None


__all__ = [
    "ACC_NAMES",
    "HTTP_TIMEOUT_S",
    "LOST_AFTER_S",
    "MAX_BODY_BYTES",
    "MS2_TO_MG",
    "PHONE_HELP",
    "POLL_INTERVAL_S",
    "PhyphoxSource",
    "SensorLoggerSource",
    "SourceClock",
    "UdpSource",
    "open_phone_source",
    "parse_sensor_logger",
    "parse_udp_line",
]

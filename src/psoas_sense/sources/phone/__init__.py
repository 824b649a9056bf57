"""Phone IMU sources: phyphox remote access (polled), Sensor Logger HTTP push, UDP streams.

A phone lying on the chest or belly is a good breathing sensor. Three ways in, all without extra
dependencies:

- ``phyphox:HOST[:PORT]``: phyphox's remote-access web server on the phone (port 8080 on
  Android, 80 on iPhones). psoas-sense polls ``/get`` incrementally on ``acc_time`` (only
  samples newer than the last one), about 10 times a second; no port is opened here. Open the
  "Acceleration with g" experiment, enable remote access, press play.
- ``sensorlogger:[HOST:]PORT``: Sensor Logger pushes JSON batches by HTTP POST to this computer.
  psoas-sense listens on 127.0.0.1:PORT unless a HOST is given; ``sensorlogger:0.0.0.0:PORT``
  opens the port to the network and asks for a session token (printed on stderr).
- ``udp:[HOST:]PORT``: apps that stream CSV lines over UDP (HyperIMU, Sensorstream IMU+GPS):
  each datagram is ``[timestamp,] ax, ay, az[, ...]`` in m/s²; loopback and token as above.

Modules: :mod:`.base` (the shared queue, loss, refusals and clock), :mod:`.timeline` (phone time
to session time, reordering, re-anchoring), :mod:`.validate` (limits and checks),
:mod:`.listen` (loopback and tokens), :mod:`.httpio` (bounded HTTP), :mod:`.phyphox`,
:mod:`.sensor_logger` and :mod:`.udp`. Every source has a ``clock`` (a
:class:`~psoas_sense.sources.clock.Clock`) giving the session seconds it stamps its items with.

Samples are converted to mG and stamped in session seconds: phone sample times are mapped onto
the host clock at the first batch, so the phone's own spacing is kept, and re-anchored on a
confirmed clock jump. Every packet is validated first; nothing a client sends ends a session.
"""


from __future__ import annotations

import urllib.parse

from psoas_sense.errors import PsoasError
from psoas_sense.sources.phone.base import HTTP_TIMEOUT_S, LOST_AFTER_S, MS2_TO_MG, SourceClock, _QueueSource
from psoas_sense.sources.phone.listen import parse_listen_spec
from psoas_sense.sources.phone.phyphox import POLL_INTERVAL_S, PhyphoxSource
from psoas_sense.sources.phone.sensor_logger import ACC_NAMES, SensorLoggerSource, parse_sensor_logger
from psoas_sense.sources.phone.udp import UdpSource, parse_udp_line
from psoas_sense.sources.phone.validate import MAX_BODY_BYTES

PHYPHOX_DEFAULT_PORT = 8080
"""phyphox's remote-access port on Android (an iPhone uses 80: give it)."""

PHONE_HELP = """\
phone sources:
  phyphox:HOST[:PORT]   poll phyphox remote access (default port 8080; iPhone: 80)
  sensorlogger:PORT     receive Sensor Logger HTTP push on 127.0.0.1:PORT (this computer only)
  sensorlogger:0.0.0.0:PORT
                        ... on every interface, for a phone on the network: a session token is
                        printed on stderr; give it as ?token=TOKEN in the push URL or as the
                        header 'Authorization: Bearer TOKEN'
  udp:PORT              receive CSV accelerometer lines over UDP on 127.0.0.1:PORT
  udp:0.0.0.0:PORT      ... on every interface; every line must start with 'TOKEN,'"""
"""Help text of the phone specs (part of ``--device`` help)."""


def open_phone_source(spec: str) -> _QueueSource | None:
    """A phone source for ``phyphox:...``, ``sensorlogger:[HOST:]PORT`` or ``udp:[HOST:]PORT``; else None.

    Raises:
        PsoasError: a phone spec with a bad address or port.
    """
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
        host, port = parse_listen_spec(kind, rest)
        return SensorLoggerSource(port, host=host) if kind == "sensorlogger" else UdpSource(port, host=host)
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

"""Where a phone source listens, and the token it asks for when it listens beyond loopback.

``sensorlogger:PORT`` and ``udp:PORT`` listen on 127.0.0.1 only: nothing off this computer can
reach them. ``sensorlogger:HOST:PORT`` (``0.0.0.0`` for every interface, or one address) opens the
port to the network; then a fresh token is made for the session and printed once on stderr, and
every request or datagram without it is refused.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import sys

from psoas_sense.errors import PsoasError

LOOPBACK_HOST = "127.0.0.1"
"""Where a network source listens unless told otherwise."""
TOKEN_BYTES = 16
"""Random bytes in a session token (22 URL-safe characters)."""


def parse_listen_spec(kind: str, rest: str) -> tuple[str, int]:
    """``PORT``, ``HOST:PORT`` or ``[IPV6]:PORT`` -> (host, port); the host defaults to loopback.

    Raises:
        PsoasError: not a port number, a port out of range, or a host that is not an IP address.
    """
    host, sep, port_text = rest.rpartition(":")
    if not sep:
        host, port_text = LOOPBACK_HOST, rest
    host = host.strip().removeprefix("[").removesuffix("]")
    try:
        port = int(port_text)
    except ValueError:
        raise PsoasError(f"{kind} needs a port number, e.g. {kind}:8000 or {kind}:0.0.0.0:8000") from None
    if not 0 <= port <= 65535:
        raise PsoasError(f"port {port} is out of range")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise PsoasError(
            f"{kind}: {host!r} is not an IP address; use 127.0.0.1 (this computer only, the default) "
            "or 0.0.0.0 (every interface, with a token)"
        ) from None
    return host, port


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an IP address) is reachable from this computer only."""
    return ipaddress.ip_address(host).is_loopback


def new_token() -> str:
    """A fresh random session token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_ok(given: str | None, token: str | None) -> bool:
    """Whether ``given`` matches ``token`` (always true when no token is asked for)."""
    if token is None:
        return True
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), token.encode())


def where(host: str, port: int, token: str | None) -> str:
    """Where the source listens, in words, for its first status line."""
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if token is None:
        return f"listening on {shown} (loopback only: apps on this computer; use 0.0.0.0:{port} for a phone)"
    return f"listening on {shown} (reachable from the network; token required, printed on stderr)"


def print_to_stderr(text: str) -> None:
    """The default way a token is announced: one message on stderr."""
    print(text, file=sys.stderr, flush=True)

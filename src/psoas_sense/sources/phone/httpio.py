"""A deliberately small HTTP/1.1 on asyncio: the push server's request reading, phyphox's GET.

Both ends bound everything: header size, body size, and the time of a whole exchange (a
client that trickles one byte a second is cut off at the deadline, not per byte). Both are
plain coroutines, so cancelling the task (Ctrl-C) ends them at once; no thread is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import urllib.parse
from dataclasses import dataclass, field

from psoas_sense.sources.phone.validate import MAX_BODY_BYTES, Refused

MAX_HEAD_BYTES = 16 * 1024
"""Largest request or response head (request line and headers)."""
DISCARD_AFTER_REPLY_S = 0.2
"""After an early reply, how long unread request bytes are drained (so the reply is not reset)."""


class HttpError(Exception):
    """The phone's HTTP answer could not be used (status, framing, size)."""


@dataclass
class RequestHead:
    """The request line and headers of one request."""

    method: str
    """``POST``, ``GET``, ..."""
    target: str
    """The path and query as sent."""
    headers: dict[str, str] = field(default_factory=dict)
    """Header values by lower-case name (the last one of a repeated header)."""

    def query(self, name: str) -> str | None:
        """The first value of a query parameter, if present."""
        values = urllib.parse.parse_qs(urllib.parse.urlsplit(self.target).query).get(name)
        return values[0] if values else None

    def bearer(self) -> str | None:
        """The token of an ``Authorization: Bearer TOKEN`` header, if present."""
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        return value.strip() if scheme.lower() == "bearer" else None

    def content_length(self, max_bytes: int = MAX_BODY_BYTES) -> int:
        """The declared body size.

        Raises:
            Refused: missing or chunked (411), not a number (400), above ``max_bytes`` (413).
        """
        text = self.headers.get("content-length")
        if text is None:
            raise Refused("no Content-Length", 411)
        if not text.isdigit() or len(text) > 12:
            raise Refused("bad Content-Length", 400)
        length = int(text)
        if length > max_bytes:
            raise Refused("body too large", 413)
        return length


async def read_head(reader: asyncio.StreamReader) -> RequestHead:
    """Read a request line and headers (the stream's ``limit`` must be :data:`MAX_HEAD_BYTES`).

    Raises:
        Refused: malformed (400) or too large (431).
        asyncio.IncompleteReadError: the client went away.
    """
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise Refused("request head too large", 431) from None
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise Refused("not an HTTP/1.x request", 400)
    head = RequestHead(method=parts[0], target=parts[1])
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise Refused("malformed header", 400)
        head.headers[name.strip().lower()] = value.strip()
    if "chunked" in head.headers.get("transfer-encoding", "").lower():
        raise Refused("chunked bodies are not accepted", 411)
    return head


async def reply(
    writer: asyncio.StreamWriter,
    reader: asyncio.StreamReader,
    code: int,
    text: str = "",
    extra: tuple[tuple[str, str], ...] = (),
) -> None:
    """Send a one-line plain-text answer, then close (draining briefly what the client still sends)."""
    phrase = http.HTTPStatus(code).phrase
    body = (text or phrase).encode() + b"\n"
    head = [f"HTTP/1.1 {code} {phrase}", "Content-Type: text/plain; charset=utf-8",
            f"Content-Length: {len(body)}", "Connection: close", *(f"{k}: {v}" for k, v in extra)]
    with contextlib.suppress(OSError, RuntimeError):
        writer.write("\r\n".join(head).encode() + b"\r\n\r\n" + body)
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        # unread request bytes at close make the kernel reset the connection, which can
        # destroy the answer before the client reads it: swallow a little first
        with contextlib.suppress(TimeoutError, OSError, asyncio.IncompleteReadError):
            async with asyncio.timeout(DISCARD_AFTER_REPLY_S):
                while await reader.read(65536):
                    pass
    writer.close()


def split_url(base_url: str) -> tuple[str, int]:
    """Host and port of an ``http://HOST:PORT`` URL.

    Raises:
        HttpError: not an http URL with a host.
    """
    parsed = urllib.parse.urlsplit(base_url)
    if parsed.scheme != "http" or not parsed.hostname:
        raise HttpError(f"not an http:// address: {base_url}")
    try:
        port = parsed.port or 80
    except ValueError:
        raise HttpError(f"bad port in {base_url}") from None
    return parsed.hostname, port


async def http_get(base_url: str, path: str, *, deadline_s: float, max_bytes: int) -> bytes:
    """GET ``base_url + path`` and return the body of a 200 answer, all within ``deadline_s``.

    Raises:
        HttpError: a non-200 answer, bad framing, or a body above ``max_bytes``.
        TimeoutError: the whole exchange took longer than ``deadline_s``.
        OSError: the connection failed.
    """
    host, port = split_url(base_url)
    async with asyncio.timeout(deadline_s):
        reader, writer = await asyncio.open_connection(host, port, limit=MAX_HEAD_BYTES)
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/json\r\n"
                         "Connection: close\r\n\r\n".encode())
            await writer.drain()
            return await _read_answer(reader, max_bytes)
        finally:
            writer.close()


async def _read_answer(reader: asyncio.StreamReader, max_bytes: int) -> bytes:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise HttpError("answer head too large") from None
    except asyncio.IncompleteReadError:
        raise HttpError("connection closed before an answer") from None
    lines = raw.decode("latin-1").split("\r\n")
    status = lines[0].split(" ")
    if len(status) < 2 or not status[0].startswith("HTTP/1.") or status[1] != "200":
        raise HttpError(f"answer {lines[0][:60]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    try:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return await _read_chunked(reader, max_bytes)
        length_text = headers.get("content-length")
        if length_text is not None:
            if not length_text.isdigit() or int(length_text) > max_bytes:
                raise HttpError(f"bad or too large Content-Length {length_text[:20]!r}")
            return await reader.readexactly(int(length_text))
        body = await reader.read(max_bytes + 1)
        while len(body) <= max_bytes:
            more = await reader.read(max_bytes + 1 - len(body))
            if not more:
                return body
            body += more
        raise HttpError("answer too large")
    except asyncio.IncompleteReadError:
        raise HttpError("answer cut short") from None


async def _read_chunked(reader: asyncio.StreamReader, max_bytes: int) -> bytes:
    body = bytearray()
    while True:
        try:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"x", 16)
        except (ValueError, asyncio.LimitOverrunError):
            raise HttpError("bad chunk size") from None
        if size < 0 or len(body) + size > max_bytes:
            raise HttpError("answer too large")
        if size == 0:
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)

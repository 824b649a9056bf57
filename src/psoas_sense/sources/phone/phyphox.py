"""phyphox remote access: poll the phone's web server for accelerometer samples.

``phyphox:HOST[:PORT]``: phyphox's remote-access web server on the phone (port 8080 on Android,
80 on iPhones). ``/get`` is polled incrementally on ``acc_time`` (only samples newer than the
last one), about 10 times a second; no port is opened here. Open the "Acceleration with g"
experiment and enable remote access; if the measurement is not running, it is started with
``/control?cmd=start`` (and a status line says so).

Every answer is checked (shape, types, finite in-range values) before a sample is kept; a bad
answer counts as a failed poll. Every request has a deadline for the whole exchange, so a phone
that stops answering, or trickles, is reported ``lost`` after a few seconds, and cancelling the
session ends a poll at once. When the experiment restarts (its time goes back to zero, the
answer is a full update, or the session id changes), time is re-anchored and the new samples
are kept from the first one.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from psoas_sense.errors import PsoasError
from psoas_sense.sources.phone.base import MS2_TO_MG, _QueueSource
from psoas_sense.sources.phone.httpio import HttpError, http_get
from psoas_sense.sources.phone.validate import Refused, acc_rows_ok, load_json
from psoas_sense.vocab import LinkState

POLL_INTERVAL_S = 0.1
"""How often phyphox is polled."""
MAX_POLL_BACKOFF_S = 1.0
"""Longest wait between polls after failures."""
REQUEST_DEADLINE_S = 2.0
"""Deadline of one whole phyphox request (connect, send, read), seconds."""
MAX_ANSWER_BYTES = 4 * 1024 * 1024
"""Largest phyphox answer read (an incremental poll is a few KiB)."""
START_RETRY_S = 5.0
"""While the measurement is not running, ``/control?cmd=start`` is sent at most this often."""
RESTART_PROBE_AFTER_S = 1.0
"""Measuring but no new sample for this long: ask for the last time, to see a restart."""
BACKLOG_S = 10.0
"""On connecting (or after a restart), samples up to this much older than the newest are fetched."""
LOST_AFTER_S = 3.0
"""phyphox is polled 10 times a second: this long without a sample (or an answer) is ``lost``."""
LINK_ERRORS = (OSError, TimeoutError, HttpError, Refused)
"""What a failed poll raises."""

Fetch = Callable[[str], Awaitable[bytes]]
"""GET a path on the phone, returning the body of a 200 answer."""


def _column(buffers: dict[str, Any], name: str) -> np.ndarray:
    """One buffer's values as floats (phyphox writes NaN as null).

    Raises:
        Refused: the buffer is missing or holds something other than numbers and nulls.
    """
    entry = buffers.get(name)
    values = entry.get("buffer") if isinstance(entry, dict) else None
    if not isinstance(values, list):
        raise Refused(f"buffer {name!r} missing", 502)
    if not all(v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values):
        raise Refused(f"buffer {name!r} holds non-numbers", 502)
    try:
        return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    except OverflowError:
        raise Refused(f"buffer {name!r} holds a number out of range", 502) from None


def parse_get(
    obj: Any, names: tuple[str, str, str, str], *, check_acc: bool = True
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Times (s), acceleration (m/s², rows) and status of a phyphox ``/get`` answer.

    Rows with a null or a non-finite value, or (with ``check_acc``) beyond 16 g, are left out.

    Raises:
        Refused: the answer does not have the shape phyphox gives.
    """
    if not isinstance(obj, dict) or not isinstance(obj.get("buffer"), dict):
        raise Refused("answer without a 'buffer' object", 502)
    status = obj.get("status", {})
    if not isinstance(status, dict):
        raise Refused("'status' is not an object", 502)
    cols = [_column(obj["buffer"], n) for n in names]
    n = min(c.size for c in cols)
    t = cols[0][:n]
    acc = np.stack([c[:n] for c in cols[1:]], axis=1) if n else np.zeros((0, 3))
    ok = np.isfinite(t) & (acc_rows_ok(acc) if check_acc else np.isfinite(acc).all(axis=1))
    return t[ok], acc[ok], status


class PhyphoxSource(_QueueSource):
    """Polls a phyphox remote-access server for accelerometer samples.

    Args:
        base_url: ``http://HOST:PORT`` of the phone.
        clock: monotonic seconds (tests inject one).
        fetch: how to GET a path (tests inject one); a deadline-bounded HTTP GET by default.
        poll_s: seconds between polls.
        sleep: how to wait between polls (tests inject one).
        deadline_s: deadline of one whole request.
        lost_after_s: silence after which ``lost`` is reported.
    """

    def __init__(
        self,
        base_url: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        fetch: Fetch | None = None,
        poll_s: float = POLL_INTERVAL_S,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        deadline_s: float = REQUEST_DEADLINE_S,
        lost_after_s: float = LOST_AFTER_S,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        super().__init__(clock=clock, sleep=sleep, lost_after_s=lost_after_s)
        self._fetch = fetch or self._http_get
        self._poll_s = poll_s
        self._deadline_s = deadline_s
        self._names = ("acc_time", "accX", "accY", "accZ")
        self._last_phone_t: float | None = None
        self._session: Any = None
        self._start_sent_s = -START_RETRY_S
        self._new_sample_s = 0.0
        self._answered_s = 0.0
        self._probe = False
        self.polls = 0
        """Polls answered with a valid answer."""
        self.starts_sent = 0
        """``/control?cmd=start`` requests sent."""

    def describe(self) -> str:
        return f"phyphox {self.base_url}"

    async def _http_get(self, path: str) -> bytes:
        return await http_get(self.base_url, path, deadline_s=self._deadline_s, max_bytes=MAX_ANSWER_BYTES)

    async def _get_json(self, path: str) -> Any:
        return load_json(await self._fetch(path), max_bytes=MAX_ANSWER_BYTES)

    async def _start(self) -> None:
        try:
            config = await self._get_json("/config")
        except LINK_ERRORS as exc:
            raise PsoasError(
                f"cannot reach phyphox at {self.base_url}: {exc}. Is remote access enabled in the "
                "experiment's menu, and are the phone and this computer on the same network?"
            ) from None
        self._names = _acc_buffers(config) or self._names

    def _query(self) -> str:
        tname, xn, yn, zn = self._names
        if self._last_phone_t is None or self._probe:
            return f"/get?{tname}="  # the last value only: where is the experiment's time?
        thr = repr(self._last_phone_t)
        ref = urllib.parse.quote(f"{thr}|{tname}", safe="")
        return f"/get?{tname}={thr}&{xn}={ref}&{yn}={ref}&{zn}={ref}"

    async def _produce(self) -> None:
        failures = 0
        while True:
            try:
                await self._poll()
                failures = 0
                self._answered_s = self.now_s()
                self._lost_detail = "phyphox answers but sends no new samples (paused on the phone?)"
                wait_s = self._poll_s
            except LINK_ERRORS as exc:
                failures += 1
                if isinstance(exc, Refused):
                    self.refuse(exc)
                why = f"no complete answer within {self._deadline_s:g} s" if isinstance(exc, TimeoutError) else exc
                self._lost_detail = f"no answer from phyphox ({type(exc).__name__}: {why})"[:160]
                wait_s = min(MAX_POLL_BACKOFF_S, self._poll_s * (2**failures))
            except Exception as exc:  # noqa: BLE001 - a bad answer must never end the session
                self.refuse(Refused(f"unexpected answer ({type(exc).__name__})", 502))
                wait_s = MAX_POLL_BACKOFF_S
            self.housekeeping()
            await self.clock.sleep(wait_s)

    async def _poll(self) -> None:
        probing = self._last_phone_t is None or self._probe
        obj = await self._get_json(self._query())
        names = (self._names[0],) * 4 if probing else self._names
        t, acc, status = parse_get(obj, names, check_acc=not probing)
        self.polls += 1
        measuring = status.get("measuring")
        session = status.get("session")
        if self._session is not None and session != self._session:
            self._restarted("the experiment's session changed")
        self._session = session
        if measuring is False and self.timeline.kept == 0:
            await self._ensure_started()
        if probing:
            self._probe = False
            t_last = float(t[-1]) if t.size else None
            if self._last_phone_t is not None and t_last is not None and t_last < self._last_phone_t:
                self._restarted("its time went back")
            if self._last_phone_t is None:
                self._last_phone_t = -1.0 if t_last is None else max(-1.0, t_last - BACKLOG_S)
            return
        if t.size and self._last_phone_t is not None and float(t[0]) <= self._last_phone_t:
            # a full update after a clear: the experiment restarted; keep all of it
            self._restarted("its data was cleared")
        if t.size:
            self.accept(t, acc * MS2_TO_MG)
            self._last_phone_t = float(t[-1])
            self._new_sample_s = self.now_s()
        elif measuring and self.now_s() - self._new_sample_s > RESTART_PROBE_AFTER_S:
            self._probe = True
            self._new_sample_s = self.now_s()

    def check_lost(self) -> None:
        """Also ``lost`` when phyphox never answered a poll for the loss delay since connecting."""
        super().check_lost()
        if self.state == LinkState.CONNECTING and self.now_s() - self._answered_s > self._lost_after_s:
            self.report(LinkState.LOST, self._lost_detail)

    def _restarted(self, why: str) -> None:
        self._last_phone_t = None  # the next probe places the threshold
        self.timeline.reanchor()
        self.report(self.state, f"phyphox experiment restarted ({why})")

    async def _ensure_started(self) -> None:
        if self.now_s() - self._start_sent_s < START_RETRY_S:
            return
        self._start_sent_s = self.now_s()
        self.starts_sent += 1
        answer = await self._get_json("/control?cmd=start")
        ok = isinstance(answer, dict) and answer.get("result") is True
        self.report(self.state, "phyphox was not measuring: " + (
            "started it (/control?cmd=start)" if ok else "could not start it; press play on the phone"))


def _acc_buffers(config: Any) -> tuple[str, str, str, str] | None:
    """Buffer names of the accelerometer input in a phyphox ``/config`` answer."""
    if not isinstance(config, dict) or not isinstance(config.get("inputs"), list):
        return None
    for inp in config["inputs"]:
        if not isinstance(inp, dict) or inp.get("source") not in ("accelerometer", "linear_acceleration"):
            continue
        out: dict[str, str] = {}
        for o in inp.get("outputs", []) if isinstance(inp.get("outputs"), list) else []:
            if isinstance(o, dict):
                out.update({k: v for k, v in o.items() if isinstance(k, str) and isinstance(v, str)})
        if all(k in out for k in ("t", "x", "y", "z")):
            return out["t"], out["x"], out["y"], out["z"]
    return None

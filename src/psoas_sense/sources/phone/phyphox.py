"""phyphox remote access: poll the phone's web server for accelerometer samples.

``phyphox:HOST[:PORT]``: phyphox's remote-access web server on the phone (port 8080 on Android,
80 on iPhones). ``/get`` is polled incrementally on ``acc_time`` (only samples newer than the
last one), about 10 times a second; no port is opened here. Open the "Acceleration with g"
experiment, enable remote access, press play.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from psoas_sense.errors import PsoasError
from psoas_sense.model import Status
from psoas_sense.sources.phone.base import HTTP_TIMEOUT_S, MAX_BODY_BYTES, MS2_TO_MG, _QueueSource

POLL_INTERVAL_S = 0.1
"""How often phyphox is polled."""
MAX_POLL_BACKOFF_S = 2.0
"""Longest wait between polls after failures."""


def _phyphox_values(obj: Any, name: str) -> list[float]:
    try:
        buf = obj["buffer"][name]["buffer"]
    except (KeyError, TypeError):
        return []
    return [float("nan") if v is None else float(v) for v in buf]


class PhyphoxSource(_QueueSource):
    """Polls a phyphox remote-access server for accelerometer samples."""

    def __init__(
        self,
        base_url: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        fetch: Callable[[str], bytes] | None = None,
        poll_s: float = POLL_INTERVAL_S,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        super().__init__(clock=clock, sleep=sleep)
        self._fetch = fetch or self._http_get
        self._poll_s = poll_s
        self._sleep = sleep
        self._names = ("acc_time", "accX", "accY", "accZ")
        self._last_phone_t: float | None = None
        self._session: str | None = None
        self.polls = 0

    def describe(self) -> str:
        return f"phyphox {self.base_url}"

    def _http_get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base_url + path, timeout=HTTP_TIMEOUT_S) as r:  # noqa: S310 - user's phone
            return bytes(r.read(MAX_BODY_BYTES))

    async def _get_json(self, path: str) -> Any:
        data = await asyncio.to_thread(self._fetch, path)
        return json.loads(data)

    async def _start(self) -> None:
        try:
            config = await self._get_json("/config")
        except (OSError, urllib.error.URLError, ValueError) as exc:
            raise PsoasError(
                f"cannot reach phyphox at {self.base_url}: {exc}. Is remote access enabled in the "
                "experiment's menu, and are the phone and this computer on the same network?"
            ) from None
        self._names = _acc_buffers(config) or self._names

    def _query(self) -> str:
        tname, xn, yn, zn = self._names
        if self._last_phone_t is None:
            return f"/get?{tname}=full&{xn}=full&{yn}=full&{zn}=full"
        thr = repr(self._last_phone_t)
        ref = urllib.parse.quote(f"{thr}|{tname}", safe="")
        return f"/get?{tname}={thr}&{xn}={ref}&{yn}={ref}&{zn}={ref}"

    async def _produce(self) -> None:
        failures = 0
        while True:
            try:
                obj = await self._get_json(self._query())
                failures = 0
            except (OSError, urllib.error.URLError, ValueError):
                failures += 1
                self.check_lost()
                await self._sleep(min(MAX_POLL_BACKOFF_S, self._poll_s * (2**failures)))
                continue
            self.polls += 1
            status = obj.get("status", {}) if isinstance(obj, dict) else {}
            session = status.get("session")
            if self._session is not None and session != self._session:
                # the experiment was switched or cleared on the phone: start over
                self._last_phone_t = None
                self.put(Status(t_s=self.now_s(), state="reconnected", detail="phyphox experiment restarted"))
            self._session = session
            tname, xn, yn, zn = self._names
            t = _phyphox_values(obj, tname)
            cols = [_phyphox_values(obj, n) for n in (xn, yn, zn)]
            n = min([len(t), *(len(c) for c in cols)])
            if n:
                tt = np.asarray(t[:n])
                acc = np.stack([np.asarray(c[:n]) for c in cols], axis=1) * MS2_TO_MG
                ok = np.isfinite(tt) & np.isfinite(acc).all(axis=1)
                if self._last_phone_t is not None:
                    ok &= tt > self._last_phone_t
                if ok.any():
                    self._last_phone_t = float(tt[ok][-1])
                    self.put_samples(tt[ok], acc[ok])
            self.check_lost()
            await self._sleep(self._poll_s)


def _acc_buffers(config: Any) -> tuple[str, str, str, str] | None:
    """Buffer names of the accelerometer input in a phyphox ``/config`` answer."""
    try:
        for inp in config.get("inputs", []):
            if inp.get("source") not in ("accelerometer", "linear_acceleration"):
                continue
            out: dict[str, str] = {}
            for o in inp.get("outputs", []):
                out.update(o)
            if all(k in out for k in ("t", "x", "y", "z")):
                return out["t"], out["x"], out["y"], out["z"]
    except AttributeError:
        return None
    return None


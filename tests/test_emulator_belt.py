"""The emulated Go Direct Respiration Belt end to end: the real BLE client code through bleak's API.

Everything runs on the emulator's virtual clock (speed max): no real waiting, the same result
each run. Exhales are scored against the emulator's own breath (its synthetic breather's exhale
onsets) with the benchmarks' tolerance: within min(1 s, 25 % of the breath period).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bleak import BleakClient

from conftest import lines_sink
from psoas_sense.coach import CoachEngine
from psoas_sense.decode import NotificationDecoder, gdx
from psoas_sense.errors import PsoasError
from psoas_sense.model import Notification, RespFrame, Status
from psoas_sense.recording.format import Recording
from psoas_sense.session.loop import run_session
from psoas_sense.session.setup import CoachConfig, RunConfig, make_coach
from psoas_sense.session.sinks import Recorder
from psoas_sense.sources.ble import scan
from psoas_sense.sources.clock import VirtualClock
from psoas_sense.sources.devices import open_device_source
from psoas_sense.sources.emulator import (
    EmulatedBleakClient,
    EmulatedBleakScanner,
    EmulatedGdxRb,
    make_emulated,
    parse_emulator_spec,
)
from psoas_sense.sources.replay import ReplaySource

ROOT = Path(__file__).resolve().parents[1]
C = gdx.Command


def f1(truth: list[float], det: list[float], t0: float = 10.0, t1: float | None = None) -> float:
    """One-to-one matching, closest first, tolerance min(1 s, 25 % of the median breath period)."""
    ref = np.asarray(truth)
    d = np.asarray(det)
    end = float(d.max()) - 2.0 if t1 is None else t1
    tol = min(1.0, 0.25 * float(np.median(np.diff(ref))))
    ref = ref[(ref >= t0) & (ref <= end)]
    d = d[(d >= t0) & (d <= end)]
    pairs = sorted((abs(a - b), i, j) for i, a in enumerate(ref) for j, b in enumerate(d) if abs(a - b) <= tol)
    used_r: set[int] = set()
    used_d: set[int] = set()
    for _, i, j in pairs:
        if i not in used_r and j not in used_d:
            used_r.add(i)
            used_d.add(j)
    tp = len(used_r)
    return 2 * tp / max(1, len(ref) + len(d))


async def session(spec: str, duration_s: float, record: Path | None = None, coach: CoachEngine | None = None,
                  **kwargs: object) -> tuple[object, list[dict], object]:
    src = open_device_source(spec, **kwargs)  # type: ignore[arg-type]
    lines: list[dict] = []
    sinks = [lines_sink(lines.append)] + ([Recorder(record)] if record is not None else [])
    result = await run_session(src, sinks=sinks, coach=coach, duration_s=duration_s)
    assert lines[-1]["event"] == "status" and lines[-1]["state"] == "stopped"
    return src, lines[:-1], result


def exhales(lines: list[dict]) -> list[float]:
    return [line["t"] for line in lines if line["event"] == "exhale"]


async def test_scan_lists_the_belt_with_its_channels() -> None:
    belt = make_emulated(parse_emulator_spec("emulated:gdx-rb?rssi=-55"), VirtualClock())
    h10 = make_emulated(parse_emulator_spec("emulated:h10?rssi=-70"), VirtualClock())
    found = await scan(0.05, scanner_backend=EmulatedBleakScanner, scanner_kwargs={"devices": [h10, belt]})
    assert [d.name for d in found] == ["GDX-RB 0K9E0001", "Polar H10 E4A1D2C3"]
    assert found[0].streams == ("force", "device_rate") and found[1].channels == ()
    assert [(c["channel"], c["name"], c["unit"]) for c in found[0].channels] == [
        (1, "Force", "N"), (2, "Respiration Rate", "bpm"), (4, "Steps", "steps"), (5, "Step Rate", "spm")]


async def test_the_belt_answers_init_and_the_captured_mask_reply() -> None:
    """INIT as every Vernier client sends it, then GET_AVAILABLE_MASK with counter 0xFD: the reply
    is byte for byte the one captured from a real belt."""
    belt = EmulatedGdxRb(parse_emulator_spec("emulated:gdx-rb?latency_ms=0&mtu=247"), VirtualClock())
    got: list[bytes] = []
    client = BleakClient(belt.ble_device, backend=EmulatedBleakClient)
    async with client:
        await client.start_notify(gdx.RESPONSE_UUID, lambda c, d: got.append(bytes(d)))
        for chunk in gdx.write_chunks(gdx.command_frame(C.INIT, 0xFE, gdx.INIT_PAYLOAD)):
            await client.write_gatt_char(gdx.COMMAND_UUID, chunk, response=False)
        await client.write_gatt_char(gdx.COMMAND_UUID, gdx.command_frame(C.GET_AVAILABLE_MASK, 0xFD), response=False)
        await belt.clock.sleep(0.1)
        assert got[-1] == bytes.fromhex("980a012751fd36000000")
        # the command characteristic takes writes without response only, as on a real belt
        with pytest.raises(Exception, match="without response"):
            await client.write_gatt_char(gdx.COMMAND_UUID, gdx.command_frame(C.GET_STATUS, 0xFC), response=True)
    await belt.shutdown()
    await belt.clock.aclose()


async def test_handshake_then_force_at_10_hz_and_teardown() -> None:
    src, lines, result = await session("emulated:gdx-rb", 120.0)
    belt = src.strap  # type: ignore[attr-defined]
    cmds = [c for _, c, _ in belt.commands]
    assert cmds[:9] == [C.INIT, C.GET_STATUS, C.GET_DEVICE_INFO, C.GET_DEFAULT_MASK, C.GET_AVAILABLE_MASK,
                        C.GET_SENSOR_INFO, C.GET_SENSOR_INFO, C.SET_MEASUREMENT_PERIOD, C.START_MEASUREMENTS]
    assert cmds[-2:] == [C.STOP_MEASUREMENTS, C.DISCONNECT] and belt.client is None
    assert [c for _, _, c in belt.commands][:3] == [0xFE, 0xFD, 0xFC]  # the rolling counter
    header = src.header  # type: ignore[attr-defined]
    assert header.streams["resp"] == {"unit": "N", "rate_hz": 10.0, "quantity": "force", "channel": 1,
                                      "inhale": "rises"}
    assert header.device["model"] == "GDX-RB" and header.device["serial"] == "0K9E0001"
    assert [line["state"] for line in lines if line["event"] == "status"] == ["connecting", "connected", "streaming"]
    assert f1(belt.signal.exhale_onsets_s, exhales(lines)) >= 0.95
    assert all(line["signal"] == "resp" for line in lines if line["event"] == "exhale")
    assert result.decode_errors == 0


@pytest.mark.slow
async def test_a_coached_session_cues_on_detected_exhales_at_10_hz() -> None:
    """The issue's Done-when: a whole coached manual session on the emulated belt."""
    config = RunConfig("session", device="emulated:gdx-rb",
                       coach=CoachConfig(protocol="manual", safety_confirmed=True, save_history=False))
    src, lines, result = await session("emulated:gdx-rb", 600.0, coach=make_coach(config, None))
    belt = src.strap  # type: ignore[attr-defined]
    assert lines[-1]["event"] == "session_end" and lines[-1]["ended_by"] == "done"
    ex = exhales(lines)
    assert f1(belt.signal.exhale_onsets_s, ex) >= 0.95
    cues = [line for line in lines if line["event"] == "cue" and line["kind"] == "sink_deeper"]
    assert len(cues) >= 20
    detected = {round(line["t"], 3): line["detected_at"] for line in lines if line["event"] == "exhale"}
    for cue in cues:  # every "sink deeper" answers a detected exhale, soon after it was detected
        assert cue["source"] == "detector" and round(cue["breath_t"], 3) in detected
        assert 0.0 <= cue["t"] - detected[round(cue["breath_t"], 3)] < 0.5


async def test_20_hz() -> None:
    src, lines, _ = await session("emulated:gdx-rb", 120.0, belt_rate_hz=20.0)
    belt = src.strap  # type: ignore[attr-defined]
    assert belt.period_us == 50_000 and src.header.streams["resp"]["rate_hz"] == 20.0  # type: ignore[attr-defined]
    assert f1(belt.signal.exhale_onsets_s, exhales(lines)) >= 0.95
    with pytest.raises(PsoasError, match="10 or 20"):
        open_device_source("emulated:gdx-rb", belt_rate_hz=15.0)


async def test_record_then_replay_through_the_decoders_byte_for_byte(tmp_path: Path) -> None:
    rec = tmp_path / "belt.jsonl.gz"
    spec = "emulated:gdx-rb?pause_every=1&packet_loss=0.03&bad_checksum_at=40&drop_at=70&drop_for=4"
    _, lines, live = await session(spec, 150.0, record=rec)
    replayed: list[dict] = []
    result = await run_session(ReplaySource(rec), sinks=[lines_sink(replayed.append)])
    assert replayed[-1]["state"] == "stopped"
    assert replayed[:-1] == lines
    assert result.decode_errors == live.decode_errors == 1  # type: ignore[attr-defined]
    # the recording keeps the host's writes too (at most 20 bytes each), and the header's force stream
    recording = Recording(rec)
    writes = [it for _, it in recording.timed_items()
              if isinstance(it, Notification) and it.char_uuid == gdx.COMMAND_UUID]
    assert writes and all(len(w.data) <= 20 for w in writes)
    assert recording.header.streams["resp"]["unit"] == "N"


async def test_lost_packets_are_found_and_the_times_stay_true() -> None:
    src = open_device_source("emulated:gdx-rb?lose_at=30,31,60&latency_ms=10-40")
    dec = NotificationDecoder()
    got: list[RespFrame] = []
    async with src:
        async for t, item in src:  # type: ignore[attr-defined]
            if isinstance(item, Notification):
                got += [f for f in dec.decode(item) if isinstance(f, RespFrame)]
            if t > 90:
                break
    belt = src.strap  # type: ignore[attr-defined]
    lost = [p for p in belt.sent if p.fault == "lost"]
    assert len(lost) == 3 and sum(g[2] for g in dec.gdx.timer.gaps) == 3 * 2
    kept = [p for p in belt.sent if p.fault == ""]
    true = np.concatenate([p.t_s - 0.1 * np.arange(p.n - 1, -1, -1) for p in kept])
    times = np.concatenate([f.t_s for f in got])
    err = times - true[: times.size]
    assert np.all(np.diff(times) > 0)
    assert np.median(np.abs(err)) < 0.05 and np.abs(err[-200:]).max() < 0.05  # true again after each loss


async def test_pauses_deliver_late_but_lose_nothing() -> None:
    src, lines, result = await session("emulated:gdx-rb?pause_every=1&pause_for=0.6", 200.0)
    belt = src.strap  # type: ignore[attr-defined]
    assert sum(p.fault == "paused" for p in belt.sent) > 100
    assert not any(line["event"] == "signal_lost" for line in lines)
    assert f1(belt.signal.exhale_onsets_s, exhales(lines)) >= 0.95
    assert result.decode_errors == 0


async def test_bad_checksum_is_refused_counted_and_the_session_goes_on() -> None:
    src, lines, result = await session("emulated:gdx-rb?bad_checksum_at=20,50,80", 120.0)
    assert result.decode_errors == 3
    assert sum(p.fault == "bad_checksum" for p in src.strap.sent) == 3  # type: ignore[attr-defined]
    assert len([t for t in exhales(lines) if t > 85]) >= 5


async def test_late_respiration_rate_is_nan_until_the_belt_has_one() -> None:
    _, lines, _ = await session("emulated:gdx-rb?rate_after=90", 130.0)
    rates = [(line["t"], line["rate_bpm"]) for line in lines if line["event"] == "device_rate"]
    assert rates[0][1] is None and rates[0][0] < 1.0
    first = next(t for t, r in rates if r is not None)
    assert 90.0 <= first < 91.0
    assert all(8.0 < r < 16.0 for t, r in rates if r is not None)  # the breather's 12/min


async def test_link_drop_reconnects_and_streams_again() -> None:
    src, lines, _ = await session("emulated:gdx-rb?drop_at=60&drop_for=4", 150.0)
    states = [(line["state"], line["t"]) for line in lines if line["event"] == "status"]
    assert [s for s, _ in states] == ["connecting", "connected", "streaming", "reconnecting", "reconnected",
                                      "streaming"]
    assert dict(states)["reconnected"] == pytest.approx(64.0)
    assert src.strap.runs == 2  # type: ignore[attr-defined]  # INIT ... START again on the new link
    assert len([t for t in exhales(lines) if t > 80]) >= 10


async def test_a_belt_that_never_comes_back_ends_the_session_truthfully() -> None:
    config = RunConfig("session", coach=CoachConfig(protocol="manual", safety_confirmed=True, save_history=False))
    _, lines, result = await session("emulated:gdx-rb?drop_at=90&drop_for=1000", 400.0, reconnect_timeout_s=30.0,
                                     coach=make_coach(config, None))
    lost = [line for line in lines if line["event"] == "status" and line["state"] == "lost"]
    assert len(lost) == 1 and 119.0 <= lost[0]["t"] <= 121.0
    assert lines[-1]["event"] == "session_end" and lines[-1]["ended_by"] == "link_lost"
    assert result.stopped_by == "link_lost"  # type: ignore[attr-defined]


async def test_a_silent_belt_is_restarted() -> None:
    items: list[tuple[float, object]] = []
    source = open_device_source("emulated:gdx-rb?stall_at=30&stall_for=60")
    async with source:
        async for t, item in source:  # type: ignore[attr-defined]
            items.append((t, item))
            if t > 60:
                break
    restarted = [(t, it.detail) for t, it in items if isinstance(it, Status) and "restarted" in it.detail]
    assert len(restarted) == 1 and 34.0 <= restarted[0][0] <= 37.0
    belt = source.strap  # type: ignore[attr-defined]
    assert belt.runs == 2 and any(p.fault == "" and p.t_s > 40 for p in belt.sent)


async def test_driven_by_a_belt_recording() -> None:
    path = ROOT / "recordings" / "neurokit2-resting-belt-rr.jsonl.gz"
    _, lines, _ = await session(f"emulated:gdx-rb?recording={path}", 120.0)
    assert len(exhales(lines)) >= 20
    with pytest.raises(PsoasError, match="no breathing waveform"):
        await session(f"emulated:gdx-rb?recording={ROOT / 'recordings' / 'h10-rr-10min.jsonl.gz'}", 10.0)


def test_bad_belt_specs_are_plain_errors() -> None:
    for spec in ("emulated:gdx-rb?start_delay=3", "emulated:h10?mtu=100", "emulated:gdx-rb?mtu=5",
                 "emulated:gdx-rb?packet_loss=2", "emulated:gdx-rb?pause_every=1&pause_for=2",
                 "emulated:gdx-rb?per_packet=0", "emulated:gdx-rb?malformed_at=3", "emulated:gdx-rb?lose_at=x"):
        with pytest.raises(PsoasError):
            open_device_source(spec)


def test_the_device_seam_is_whole() -> None:
    """Every profile's characteristics have a device decoder; every emulated kind has a device."""
    from psoas_sense.decode import DEVICE_DECODERS
    from psoas_sense.sources.ble.profiles import PROFILES, emulated_kinds
    from psoas_sense.sources.devices import DEVICE_HELP

    decoded = {c for cls in DEVICE_DECODERS for c in cls().chars}
    for cls in PROFILES:
        assert set(cls.notify_uuids) <= decoded, cls.name
    assert emulated_kinds() == ("h10", "hrs", "gdx-rb")
    for kind in emulated_kinds():
        device = make_emulated(parse_emulator_spec(f"emulated:{kind}"), VirtualClock())
        assert device.name and kind in DEVICE_HELP


class _Host:
    """What a profile may use of the source, for driving a profile by hand."""

    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.state = "streaming"
        self.info: dict = {}
        self.acc_rate_hz = 0
        self.acc_range_g = 8
        self.belt_period_us = 100_000
        self.reconnect_timeout_s = 30.0
        self.statuses: list[tuple[str, str]] = []

    def status(self, state: str, detail: str = "") -> None:
        self.statuses.append((state, detail))

    def record_write(self, char_uuid: str, data: bytes) -> None:
        pass

    notify_callback = None


async def test_a_silent_belt_escalates_restart_reconnect_give_up() -> None:
    """Measurements silent with the link up: restart once, then reconnect, and after the reconnect
    timeout with no measurement at all, give up (the source then reports ``lost``)."""
    from psoas_sense.sources.ble.profiles.gdx import STALL_S, GdxProfile

    profile = GdxProfile()
    host = _Host()
    profile.streaming = True
    profile.last_data_s = profile.last_packet_s = 10.0
    assert await profile.watch(host, None, 10.0 + STALL_S) is None  # not yet
    profile._stall_reported = True  # restarted once already (a restart needs a link: the emulator tests it)
    assert await profile.watch(host, None, 10.0 + STALL_S + 1) == "reconnect"
    profile.on_notify(gdx.RESPONSE_UUID, bytes([0x20, 25]), 20.0)  # a packet: all is well again
    assert await profile.watch(host, None, 21.0) is None and not profile._stall_reported
    gave_up = await profile.watch(host, None, 20.0 + host.reconnect_timeout_s + 1)
    assert gave_up is not None and "gave up" in gave_up
    await host.clock.aclose()


async def test_a_paced_belt_keeps_its_frames_whole() -> None:
    """On a paced clock (``--speed 50``) the 158-byte device info comes in 8 pieces and still
    joins up: the emulated link delivers in order whatever order equal deadlines wake in."""
    src = open_device_source("emulated:gdx-rb", speed=50.0)
    states: list[str] = []
    async with src:
        async for t, item in src:  # type: ignore[attr-defined]
            if isinstance(item, Status):
                states.append(item.state)
            if t > 3.0:
                break
    assert states[:3] == ["connecting", "connected", "streaming"]


def test_record_says_what_the_belt_lost(tmp_path: Path) -> None:
    from clirun import cli

    out = tmp_path / "belt.jsonl"
    run = cli("record", "--device", "emulated:gdx-rb?lose_at=20,40", "--out", str(out), "--duration", "60",
              "--speed", "max")
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines()[-1].endswith("the belt lost 4 samples in 2 gaps")
    assert out.stat().st_mode & 0o777 == 0o600

"""The bleak edge: the emulated backends used through bleak's own API, error messages, choices."""

from __future__ import annotations

import asyncio
import json

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
)
from bleak_retry_connector import establish_connection

from clirun import cli
from psoas_sense.decode import hrs, pmd
from psoas_sense.errors import PsoasError
from psoas_sense.sources.ble import BleSource, backoff_s, scan, translate_error
from psoas_sense.sources.clock import VirtualClock
from psoas_sense.sources.devices import DEVICE_HELP, open_device_source
from psoas_sense.sources.emulator import (
    EmulatedBleakClient,
    EmulatedBleakScanner,
    EmulatedStrap,
    parse_emulator_spec,
)


def make_strap(spec: str = "emulated:h10") -> EmulatedStrap:
    return EmulatedStrap(parse_emulator_spec(spec), VirtualClock())


async def test_bleak_client_with_the_emulated_backend() -> None:
    strap = make_strap("emulated:h10?latency_ms=0")
    got: list[tuple[str, bytes]] = []
    client = BleakClient(strap.ble_device, backend=EmulatedBleakClient)
    assert client.backend_id == "EmulatedBleakClient"
    async with client:
        assert client.is_connected and client.mtu_size >= 232
        assert client.services.get_service(pmd.PMD_SERVICE_UUID) is not None
        assert client.services.get_characteristic("2a37") is not None  # 16-bit lookups work
        assert bytes(await client.read_gatt_char(hrs.BATTERY_LEVEL_UUID)) == b"\x57"
        assert bytes(await client.read_gatt_char("2a29")) == b"Polar Electro Oy"
        assert pmd.parse_features(bytes(await client.read_gatt_char(pmd.PMD_CONTROL_POINT_UUID))).measurements == {
            "ecg",
            "acc",
        }

        def on(char, data: bytearray) -> None:
            got.append((char.uuid, bytes(data)))

        await client.start_notify(pmd.PMD_CONTROL_POINT_UUID, on)
        await client.write_gatt_char(pmd.PMD_CONTROL_POINT_UUID, pmd.get_settings_request(pmd.ACC), response=True)
        for _ in range(3):
            await asyncio.sleep(0)
        assert got and got[0][0] == pmd.PMD_CONTROL_POINT_UUID
        resp = pmd.parse_cp_message(got[0][1])
        assert resp.ok and resp.settings["sample_rate"] == (25, 50, 100, 200)
        # a start without RESOLUTION is refused, as a real H10 does
        await client.write_gatt_char(
            pmd.PMD_CONTROL_POINT_UUID, pmd.start_request(pmd.ACC, {"sample_rate": 200, "range": 8}), response=True
        )
        for _ in range(3):
            await asyncio.sleep(0)
        assert pmd.parse_cp_message(got[-1][1]).status_name == "ERROR_INVALID_PARAMETER"
        with pytest.raises(BleakError):
            await client.write_gatt_char(hrs.HEART_RATE_MEASUREMENT_UUID, b"\x01", response=True)
    assert not client.is_connected and strap.client is None
    await strap.shutdown()
    await strap.clock.aclose()


async def test_second_client_is_refused_as_busy() -> None:
    strap = make_strap("emulated:hrs")
    a = BleakClient(strap.ble_device, backend=EmulatedBleakClient)
    b = BleakClient(strap.ble_device, backend=EmulatedBleakClient)
    await a.connect()
    with pytest.raises(BleakError) as info:
        await b.connect()
    assert "busy" in translate_error(info.value, "HRM").args[0]
    await a.disconnect()
    await strap.shutdown()
    await strap.clock.aclose()


async def test_bleak_retry_connector_drives_the_emulated_backend() -> None:
    strap = make_strap()
    client = await establish_connection(BleakClient, strap.ble_device, strap.name, backend=EmulatedBleakClient)
    assert client.is_connected
    await client.disconnect()
    await strap.shutdown()
    await strap.clock.aclose()


async def test_scanner_backend_strongest_first() -> None:
    h10 = make_strap("emulated:h10?rssi=-70")
    band = make_strap("emulated:hrs?rssi=-50&name=Coospo H6")
    found = await scan(0.05, scanner_backend=EmulatedBleakScanner, scanner_kwargs={"devices": [h10, band]})
    assert [(d.name, d.rssi, d.streams) for d in found] == [
        ("Coospo H6", -50, ("hr", "rr")),
        (h10.name, -70, ("hr", "rr", "acc")),
    ]
    # bleak's own find_device_by_name works with the backend (reports come after start())
    dev = await BleakScanner.find_device_by_name(
        "Coospo H6", timeout=2.0, backend=EmulatedBleakScanner, devices=[h10, band]
    )
    assert dev is not None and dev.details is band


async def test_connect_by_name_and_address_through_the_scanner() -> None:
    strap = make_strap("emulated:hrs?name=Wahoo TICKR 1234")
    for spec in ("wahoo tickr", strap.address.lower()):
        src = BleSource(
            spec,
            clock=strap.clock,
            client_backend=EmulatedBleakClient,
            scanner_backend=EmulatedBleakScanner,
            scanner_kwargs={"devices": [strap]},
        )
        async with src:
            assert src.header.device["name"] == "Wahoo TICKR 1234"
    src = BleSource(
        "Garmin",
        clock=strap.clock,
        client_backend=EmulatedBleakClient,
        scanner_backend=EmulatedBleakScanner,
        scanner_kwargs={"devices": [strap]},
        scan_timeout_s=0.3,
    )
    with pytest.raises(PsoasError, match="not found"):
        async with src:
            pass
    await strap.shutdown()
    await strap.clock.aclose()


def test_error_messages_are_plain() -> None:
    cases = [
        (BleakBluetoothNotAvailableError("x", BleakBluetoothNotAvailableReason.NO_BLUETOOTH), "no Bluetooth adapter"),
        (BleakBluetoothNotAvailableError("x", BleakBluetoothNotAvailableReason.POWERED_OFF), "Bluetooth is off"),
        (BleakBluetoothNotAvailableError("x", BleakBluetoothNotAvailableReason.DENIED_BY_USER), "no permission"),
        (BleakDBusError("org.bluez.Error.NotReady", ["Resource Not Ready"]), "Bluetooth is off"),
        (BleakDBusError("org.bluez.Error.NotPermitted", ["Not permitted"]), "no permission"),
        (PermissionError("denied"), "no permission"),
        (BleakDeviceNotFoundError("AA", "Device with address AA was not found."), "not found"),
        (BleakDBusError("org.bluez.Error.InProgress", ["Operation already in progress"]), "busy"),
        (TimeoutError(), "did not answer"),
        (BleakError("weird"), "Bluetooth error"),
    ]
    for exc, text in cases:
        msg = str(translate_error(exc, "Polar H10"))
        assert text in msg and "\n" not in msg and "Traceback" not in msg


def test_pure_choices() -> None:
    offered = {"sample_rate": (25, 50, 100, 200), "resolution": (16,), "range": (2, 4, 8)}
    assert BleSource.choose_acc_settings(offered, 200, 8) == {"sample_rate": 200, "resolution": 16, "range": 8}
    assert BleSource.choose_acc_settings(offered, 120, 2)["sample_rate"] == 100
    assert BleSource.choose_acc_settings(offered, 10, 8)["sample_rate"] == 25
    assert (
        BleSource.choose_acc_settings(
            {"sample_rate": (52,), "resolution": (16,), "range": (8,), "channels": (3,)}, 200, 8
        )["channels"]
        == 3
    )
    assert [backoff_s(i) for i in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_device_help_names_every_option() -> None:
    for key in (
        "emulated:h10",
        "emulated:hrs",
        "drop_at",
        "drop_for",
        "start_delay",
        "recording",
        "malformed_at",
        "stall_at",
        "acc_frames",
    ):
        assert key in DEVICE_HELP
    opts = parse_emulator_spec("emulated:h10?drop_at=60,90&start_delay=25&acc_frames=raw&hr_flags=0x16")
    assert (
        opts.drop_at_s == (60.0, 90.0)
        and opts.start_delay_s == 25
        and opts.acc_frames == "raw"
        and opts.hr_flags == 0x16
    )


async def test_raw_frames_option_sends_what_a_real_h10_sends() -> None:
    src = open_device_source("emulated:h10?acc_frames=raw")
    frames: list[bytes] = []
    async with src:
        async for t, item in src:
            if getattr(item, "char_uuid", "") == pmd.PMD_DATA_UUID:
                frames.append(item.data)
            if t > 3:
                break
    assert frames and all(f[9] == 0x01 and len(f) == 226 for f in frames)


def test_cli_help_and_scan_emulated() -> None:
    out = cli("record", "--help")
    assert out.returncode == 0 and "emulated:h10" in out.stdout and "drop_at" in out.stdout
    out = cli("scan", "--emulated", "--json", "--timeout", "0.05")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert {r["name"].split()[0] for r in rows} == {"Polar", "HRM-Dual", "GDX-RB"}
    out = cli("record", "--device", "emulated:h10?drop_at=x", "--out", "/nonexistent-dir/x.jsonl")
    assert out.returncode == 2 and out.stderr.count("\n") == 1


async def test_virtual_clock_jumps_to_timers_and_times_out_on_data_time() -> None:
    clock = VirtualClock()
    order: list[tuple[str, float]] = []

    async def sleeper(name: str, dt: float) -> None:
        await clock.sleep(dt)
        order.append((name, clock.now()))

    await asyncio.gather(sleeper("b", 30.0), sleeper("a", 5.0), sleeper("c", 3600.0))
    assert order == [("a", 5.0), ("b", 30.0), ("c", 3600.0)]
    never = asyncio.Event()
    with pytest.raises(TimeoutError):
        await clock.wait_for(never.wait(), 10.0)
    assert clock.now() == 3610.0
    assert await clock.wait_for(asyncio.sleep(0, result=7), 1.0) == 7
    await clock.aclose()


async def test_contact_bits_of_a_standard_strap() -> None:
    src = open_device_source("emulated:hrs?no_contact_at=5")
    flags: list[tuple[float, int]] = []
    async with src:
        async for t, item in src:
            if getattr(item, "char_uuid", "") == hrs.HEART_RATE_MEASUREMENT_UUID:
                flags.append((t, item.data[0]))
            if t > 20:
                break
    contact = [(round(t), hrs.decode_heart_rate_measurement(bytes([f, 60])).contact_detected) for t, f in flags]
    assert all(c is True for t, c in contact if t < 5 or t > 16)
    assert any(c is False for t, c in contact if 5 <= t <= 15)


async def test_emulated_h10_streams_ecg_like_a_real_one() -> None:
    from psoas_sense.decode import NotificationDecoder
    from psoas_sense.model import Notification

    strap = make_strap("emulated:h10?latency_ms=0")
    got: list[bytes] = []
    client = BleakClient(strap.ble_device, backend=EmulatedBleakClient)
    await client.connect()
    await client.start_notify(pmd.PMD_CONTROL_POINT_UUID, lambda c, d: got.append(bytes(d)))
    await client.start_notify(pmd.PMD_DATA_UUID, lambda c, d: got.append(bytes(d)))
    await client.write_gatt_char(
        pmd.PMD_CONTROL_POINT_UUID, pmd.start_request(pmd.ECG, {"sample_rate": 130, "resolution": 14}), response=True
    )
    await strap.clock.sleep(5.0)
    await client.write_gatt_char(pmd.PMD_CONTROL_POINT_UUID, pmd.stop_request(pmd.ECG), response=True)
    await strap.clock.sleep(0.1)
    await client.disconnect()
    assert got[0] == h("F0 02 00 00 00 00") and got[-1] == h("F0 03 00 00 00")
    frames = [pmd.decode_pmd_frame(d) for d in got[1:-1]]
    assert len(frames) >= 8 and all(f.measurement_type == pmd.ECG and f.n == 73 for f in frames)
    steps = [(b.timestamp_ns - a.timestamp_ns) / 73 for a, b in zip(frames, frames[1:])]
    assert all(abs(s * 130 / 1e9 - 1) < 0.01 for s in steps)
    dec = NotificationDecoder()
    for i, d in enumerate(got):
        dec.decode(Notification(float(i), pmd.PMD_DATA_UUID if d[0] == 0 else pmd.PMD_CONTROL_POINT_UUID, d))
    assert dec.errors == 0 and dec.ecg_samples >= 8 * 73
    await strap.shutdown()
    await strap.clock.aclose()


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))

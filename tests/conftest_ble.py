"""The ``--ble-device`` option: tests against a real strap run only when it is given.

Registered from ``tests/conftest.py`` with ``pytest_plugins = ["conftest_ble"]``. Example::

    pytest tests/test_ble_real_device.py --ble-device "Polar H10"      # name, part of it, or address
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--ble-device",
        action="store",
        default=None,
        metavar="ADDRESS|NAME",
        help="run the tests marked ble_device against this real strap (worn, in range)",
    )


@pytest.fixture
def ble_device(request: pytest.FixtureRequest) -> str:
    """The real strap named by ``--ble-device``; skips the test without it."""
    value = request.config.getoption("--ble-device", default=None)
    if not value:
        pytest.skip("needs a real strap: run with --ble-device ADDRESS|NAME")
    return str(value)

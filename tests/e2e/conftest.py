from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from agentscaler.shared.bus.server import EmbeddedServer
from tests.e2e.harness import SERVICES, System


@pytest.fixture
def system(nats_server: EmbeddedServer, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[System]:
    """All four services as processes against the test's nats-server; on failure their logs are shown. A test
    parametrized indirectly on ``system`` passes settings for the services (``AGENTSCALER_...`` variables)."""
    with services_up(nats_server.url, tmp_path, request, getattr(request, "param", {})) as sys_:
        yield sys_


@contextmanager
def services_up(url: str, tmp_path: Path, request: pytest.FixtureRequest, settings: dict[str, str]) -> Iterator[System]:
    """The four services as processes against the servers at ``url``, with ``settings``; stopped at the end,
    their logs shown when the test failed."""
    logs = tmp_path / "logs"
    logs.mkdir()
    sys_ = System(url=url, logs=logs, settings=settings)
    for name in SERVICES:
        sys_.start(name)
    try:
        yield sys_
    finally:
        sys_.stop_all()
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print(sys_.log_text()[-20000:])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)

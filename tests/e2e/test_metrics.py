"""End to end: ``agentscaler run`` serves its metrics on /metrics, and a real Prometheus scraping it counts
the agents of each pool; the exposition passes ``promtool check metrics``, and the shipped Grafana dashboard
and alert rules use only metric names the live system exports (the rules pass ``promtool check rules``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentscaler.shared.bus.server import EmbeddedServer, free_port
from tests.e2e.harness import System, make_pool, wait_until

pytestmark = pytest.mark.e2e

DOCS = Path(__file__).resolve().parents[2] / "docs"
SHIPPED = (DOCS / "grafana" / "agentscaler.json", DOCS / "prometheus" / "alerts.yml")
WORKING = 'sum by (pool) (agentscaler_agents{state=~"ready|busy"})'

needs_prometheus = pytest.mark.skipif(
    not (shutil.which("prometheus") and shutil.which("promtool")),
    reason="needs the prometheus and promtool binaries (Debian package `prometheus`; .ci/run installs it)",
)


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return reply.read().decode()


def answers(url: str) -> bool:
    try:
        return bool(get(url))
    except OSError:  # not listening yet
        return False


def exposed_names(text: str) -> set[str]:
    """The sample names of an exposition (``x_bucket``, ``x_count``, ``y_total``, ...)."""
    return {re.split(r"[{\s]", line, maxsplit=1)[0] for line in text.splitlines() if line and not line.startswith("#")}


def used_names(path: Path) -> set[str]:
    return set(re.findall(r"\bagentscaler_[a-z0-9_]+", path.read_text()))


@pytest.fixture
def run_system(nats_server: EmbeddedServer, tmp_path: Path) -> Iterator[tuple[System, int]]:
    """``agentscaler run`` against the test's server, serving /metrics on a free port."""
    port = free_port()
    system = System(url=nats_server.url, logs=tmp_path, settings={"AGENTSCALER_METRICS_PORT": str(port)})
    with open(tmp_path / "run.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "agentscaler.services.cli", "run", "--nats-url", system.url],
            env=system.env(), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    system.procs["run"] = proc
    try:
        yield system, port
    finally:
        system.stop_all()


@pytest.fixture
def prometheus(tmp_path: Path, run_system: tuple[System, int]) -> Iterator[str]:
    """A real Prometheus scraping the system's /metrics every 0.5 s; its base URL."""
    _, target = run_system
    web = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 500ms, evaluation_interval: 1s}\n"
        f"scrape_configs: [{{job_name: agentscaler, static_configs: [{{targets: ['127.0.0.1:{target}']}}]}}]\n"
    )
    with open(tmp_path / "prometheus.log", "ab") as log:
        proc = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{web}", "--log.level=warn"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    url = f"http://127.0.0.1:{web}"
    try:
        wait_until(lambda: answers(f"{url}/-/ready"), what="prometheus ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def working_agents(prometheus: str) -> dict[str, float]:
    """Prometheus' answer to "working agents per pool"."""
    reply = json.loads(get(f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": WORKING})))
    assert reply["status"] == "success", reply
    return {r["metric"]["pool"]: float(r["value"][1]) for r in reply["data"]["result"]}


@needs_prometheus
def test_prometheus_counts_the_agents_of_each_pool(run_system: tuple[System, int], prometheus: str):
    system, port = run_system
    make_pool(system, "m1")
    make_pool(system, "m2")
    system.cli("up", "3", "--pool", "m1")
    system.cli("up", "2", "--pool", "m2")
    system.cli("submit", '{"sleep": 0.05}', "--pool", "m1", "--count", "5")

    def counted() -> bool:
        seen = working_agents(prometheus)
        assert {p: seen.get(p) for p in ("m1", "m2")} == {"m1": 3.0, "m2": 2.0}, seen
        return True

    wait_until(counted, timeout=30, what="prometheus counting 3 agents in m1 and 2 in m2")
    system.cli("down", "1", "--pool", "m2")  # a drain, for the drain histogram
    wanted = set().union(*(used_names(path) for path in SHIPPED))

    def all_exported() -> str:
        text = get(f"http://127.0.0.1:{port}/metrics")
        missing = wanted - exposed_names(text)
        assert not missing, f"used in docs/grafana or docs/prometheus but not exported: {sorted(missing)}"
        return text

    text = wait_until(all_exported, timeout=20, what="every metric the dashboard and alerts use exported")
    lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    rules = subprocess.run(["promtool", "check", "rules", str(SHIPPED[1])], capture_output=True, text=True, timeout=30)
    assert rules.returncode == 0, rules.stdout + rules.stderr

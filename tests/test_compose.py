"""docker-compose.yml has the production shape; no Docker engine runs here, so it is checked statically.

Checked: the services (Kafka in KRaft mode, ingest, two workers, PostgreSQL, Prometheus, Grafana), that
workers and ingest use the image built from the Dockerfile, that every bind-mounted file of the repo
exists, that no secret is written in the file (only ``${VAR:?}`` references), and that Prometheus scrapes
ingest and both workers.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_services_and_kraft():
    services = compose()["services"]
    assert {"kafka", "postgres", "ingest", "worker-1", "worker-2", "health", "prometheus", "grafana"} <= set(services)
    kafka = services["kafka"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "ZOOKEEPER" not in " ".join(kafka)
    for name in ("ingest", "worker-1", "worker-2"):
        service = services[name]
        assert service["build"] == "." and service["command"][0] == name.split("-")[0]
        assert service["environment"]["EVENTYARD_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert service["environment"]["EVENTYARD_IDEMPOTENT_PRODUCER"] == "true"


def test_bind_mounts_exist_and_dockerfile_copies_exist():
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for part in line.split()[1:-1]:
                assert (REPO / part).exists(), f"Dockerfile copies missing {part}"


def test_no_literal_secrets():
    text = (REPO / "docker-compose.yml").read_text()
    found = re.findall(r"^\s*([A-Z_]*(?:PASSWORD|WRITE_KEY|SECRET|DSN)[A-Z_]*):\s*(.+)$", text, re.M)
    assert len(found) >= 5
    for key, value in found:
        assert "${" in value, f"{key} must come from the environment"


def test_prometheus_scrapes_every_process():
    config = yaml.safe_load((REPO / "ops" / "prometheus" / "prometheus.yml").read_text())
    targets = [t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    assert sorted(targets) == ["health:8090", "ingest:8088", "worker-1:6066", "worker-2:6066"]

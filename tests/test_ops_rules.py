"""ops/: the alert rules pass ``promtool check rules``, every alert has a ``promtool test rules`` unit test
that passes, and the Grafana dashboard only queries metrics eventyard defines."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

import eventyard.streams.metrics  # noqa: F401  (registers every eventyard metric)

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "ops" / "prometheus" / "rules" / "eventyard.yml"
RULE_TESTS = sorted((REPO / "ops" / "prometheus" / "tests").glob("*.yml"))
DASHBOARD = REPO / "ops" / "grafana" / "dashboards" / "eventyard.json"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool missing: run tests/deps/install.sh (Debian package prometheus)"
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, cwd=REPO, timeout=120)


def test_rules_are_valid(promtool):
    result = run(promtool, "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 5 rules found" in result.stdout


def test_rule_unit_tests_pass(promtool):
    result = run(promtool, "test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_unit_test():
    alerts = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]}
    tested = {case["alertname"] for path in RULE_TESTS for test in yaml.safe_load(path.read_text())["tests"]
              for case in test.get("alert_rule_test", []) if case.get("exp_alerts")}
    assert alerts == tested


def known_metric_names() -> set[str]:
    names = set()
    for family in REGISTRY.collect():
        if family.name.startswith("eventyard_"):
            names.add(family.name + ("_total" if family.type == "counter" else ""))
            names.update({family.name + "_bucket"} if family.type == "histogram" else set())
    return names


def test_dashboard_and_rules_query_only_defined_metrics():
    exprs = [t["expr"] for panel in json.loads(DASHBOARD.read_text())["panels"] for t in panel["targets"]]
    exprs += [rule["expr"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    used = {name for expr in exprs for name in re.findall(r"\beventyard_[a-z_]+", expr)}
    assert used and used <= known_metric_names(), used - known_metric_names()
    titles = " ".join(panel["title"] for panel in json.loads(DASHBOARD.read_text())["panels"]).lower()
    for topic in ("volume", "delivered", "dead-lettered", "success rate", "p95", "retries pending",
                  "consumer lag", "rejects", "violations"):
        assert topic in titles

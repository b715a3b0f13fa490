"""deploy/'s alert rules and Grafana dashboard read series the daemon exposes; with promtool installed, the
rules load, fire as meant on made-up series, and the exposition passes promtool's naming lint."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml
from digitwatch.daemon.metrics import Metrics

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "deploy" / "prometheus-alerts.yml"
DASHBOARD = REPO / "deploy" / "grafana-dashboard.json"
needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed here")


def exposed() -> set[str]:
    """Every sample name a daemon's /metrics holds (with _total, _bucket, ...)."""
    m = Metrics()
    m.bind(lambda: 0, lambda: True, lambda: 0.0, lambda: True, lambda: ("abc", "bundled"), lambda: {})
    m.batch_published(["ok"], [0.1], 0.1)
    return {line.split("{")[0].split(" ")[0] for line in m.text().decode().splitlines() if not line.startswith("#")}


def names_in(expr: str) -> set[str]:
    return set(re.findall(r"\b((?:digitwatch|process)_[a-z_]+)", expr))


def test_rules_and_dashboard_read_series_that_exist() -> None:
    series = exposed()
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    assert {r["alert"] for r in rules} >= {
        "DigitwatchWatcherDown",
        "DigitwatchStalePublish",
        "DigitwatchErrorRate",
        "DigitwatchQueueGrowing",
    }
    for rule in rules:
        assert names_in(rule["expr"]) <= series, rule["alert"]
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    for expr in exprs:
        assert names_in(expr) and names_in(expr) <= series, expr


@needs_promtool
def test_promtool_checks_rules_and_the_exposition() -> None:
    r = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    lint = subprocess.run(["promtool", "check", "metrics"], input=Metrics().text(), capture_output=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr  # Prometheus' naming conventions


@needs_promtool
def test_alerts_fire_as_meant(tmp_path: Path) -> None:
    """promtool's rule unit tests on made-up series: each alert fires when it should and only then
    (for instance a, not for the healthy instance b). Annotations are prose: left out here."""
    rules = yaml.safe_load(RULES.read_text())
    for rule in rules["groups"][0]["rules"]:
        rule.pop("annotations")
    stripped = tmp_path / "rules.yml"
    stripped.write_text(yaml.safe_dump(rules))
    tests = tmp_path / "alerts-test.yml"
    tests.write_text(
        textwrap.dedent(
            f"""
            rule_files: [{stripped}]
            evaluation_interval: 1m
            tests:
              - interval: 1m
                input_series:
                  - series: 'digitwatch_watcher_up{{instance="a"}}'
                    values: '1 1 0 0 0 0 0'
                  - series: 'digitwatch_watcher_up{{instance="b"}}'
                    values: '1 1 1 1 1 1 1'
                  - series: 'digitwatch_files_total{{instance="a",status="ok"}}'
                    values: '0+10x40'
                  - series: 'digitwatch_files_total{{instance="a",status="error"}}'
                    values: '0+10x40'
                  - series: 'digitwatch_files_total{{instance="b",status="ok"}}'
                    values: '0+100x40'
                  - series: 'digitwatch_files_total{{instance="b",status="error"}}'
                    values: '0+1x40'
                  - series: 'digitwatch_queue_depth{{instance="a"}}'
                    values: '200+20x40'
                  - series: 'digitwatch_queue_depth{{instance="b"}}'
                    values: '5x40'
                  - series: 'digitwatch_last_publish_timestamp_seconds{{instance="a"}}'
                    values: '60x40'
                  - series: 'digitwatch_last_publish_timestamp_seconds{{instance="b"}}'
                    values: '0+60x40'
                alert_rule_test:
                  - eval_time: 3m
                    alertname: DigitwatchWatcherDown
                  - eval_time: 5m
                    alertname: DigitwatchWatcherDown
                    exp_alerts:
                      - exp_labels: {{instance: a, severity: critical}}
                  - eval_time: 40m
                    alertname: DigitwatchErrorRate
                    exp_alerts:
                      - exp_labels: {{instance: a, severity: warning}}
                  - eval_time: 40m
                    alertname: DigitwatchQueueGrowing
                    exp_alerts:
                      - exp_labels: {{instance: a, severity: warning}}
                  - eval_time: 40m
                    alertname: DigitwatchStalePublish
                    exp_alerts:
                      - exp_labels: {{instance: a, severity: warning}}
            """
        )
    )
    r = subprocess.run(["promtool", "test", "rules", str(tests)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr

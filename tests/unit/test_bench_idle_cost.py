"""The idle cost model of `make bench` section 5: fixed charges counted from a template's resources."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import idle_cost  # noqa: E402

PRICES = json.loads((ROOT / "bench" / "prices.json").read_text())


def test_schedules_are_counted_per_month() -> None:
    assert idle_cost.runs_per_month("rate(1 minute)") == 43_200
    assert idle_cost.runs_per_month("rate(5 minutes)") == 8_640
    assert idle_cost.runs_per_month("cron(0 2 * * ? *)") == 30


def test_fixed_charges_follow_the_template() -> None:
    # Given a web ACL with three rules, a metric-math alarm over two metrics and a plain alarm
    template: dict[str, Any] = {
        "Resources": {
            "Dashboard": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {}},
            "Key1": {"Type": "AWS::KMS::Key", "Properties": {}},
            "Key2": {"Type": "AWS::KMS::Key", "Properties": {}},
        }
    }
    template["Resources"]["Acl"] = {"Type": "AWS::WAFv2::WebACL", "Properties": {"Rules": [{}, {}, {}]}}
    template["Resources"]["Math"] = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {"Metrics": [{"MetricStat": {}}, {"MetricStat": {}}, {"Expression": "m1+m2"}]},
    }
    template["Resources"]["Plain"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {}}
    rows = {r["item"]: r["usd_month"] for r in idle_cost.idle_cost(template, "prod", PRICES)["rows"]}
    p = PRICES["prices_usd"]
    assert rows["WAF web ACLs / rules"] == round(p["waf_web_acl_month"] + 3 * p["waf_rule_month"], 2)
    assert rows["CloudWatch alarms (billed per metric)"] == round(3 * p["cloudwatch_alarm_metric_month"], 2)
    assert rows["CloudWatch dashboards"] == p["cloudwatch_dashboard_month"]
    assert rows["KMS customer managed keys"] == 2 * p["kms_key_month"]
    # And without them (a dev stage's settings) they cost nothing
    bare = {r["item"]: r["usd_month"] for r in idle_cost.idle_cost({"Resources": {}}, "dev", PRICES)["rows"]}
    assert bare["WAF web ACLs / rules"] == bare["CloudWatch dashboards"] == 0

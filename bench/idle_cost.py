"""What one regional stack costs a month with no traffic, from its synthesized template (what
`cdk deploy` would create) and the stage's settings, at the list prices of `bench/prices.json`.

Fixed charges are counted from the template's resources (WAF ACL and rules, alarms per metric,
dashboards, secrets, KMS keys, user pools); what runs without traffic comes from the wiring (every
schedule's invocations with their Lambda, Scheduler, DynamoDB, X-Ray and log costs) and from the
event source mappings on SQS queues (their idle long polls); storage at the volumes stated in
`prices.json` ("idle").
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "cloudtill" / "python")]

from infra.wiring import FUNCTIONS, SCHEDULES  # noqa: E402

MINUTES_PER_MONTH = 30 * 24 * 60
TARGETS_USD = {"prod": 15.0, "dev": 3.0}


def synthesize(stage: str, region: str = "eu-west-1") -> dict[str, Any]:
    """The stage's template for `region`, synthesized in-process (no cdk-nag, no validation)."""
    os.environ.setdefault("CDK_VALIDATION", "false")
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from infra.app import build_app, create_app

    with tempfile.TemporaryDirectory(prefix="cloudtill-idle-") as outdir:
        app = create_app({"stage": stage, "regions": region}, outdir=outdir)
        (stack,) = build_app(app, with_nag=False)
        app.synth()
        template: dict[str, Any] = json.loads(
            (Path(outdir) / f"{stack.stack_name}.template.json").read_text()
        )
    return template


def runs_per_month(expression: str) -> float:
    rate = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression)
    if rate:
        every = int(rate.group(1)) * {"minute": 1, "hour": 60, "day": 1440}[rate.group(2).rstrip("s")]
        return MINUTES_PER_MONTH / every
    if expression.startswith("cron("):
        minute, hour, *_ = expression[5:-1].split()
        per_day = (60 if minute == "*" else len(minute.split(","))) * (
            24 if hour == "*" else len(hour.split(","))
        )
        return per_day * 30.0
    raise ValueError(f"cannot count the runs of {expression!r}")


def _of_type(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def idle_cost(template: dict[str, Any], stage: str, prices: dict[str, Any]) -> dict[str, Any]:
    p, idle = prices["prices_usd"], prices["idle"]
    rows: list[tuple[str, str, float]] = []  # (item, quantity, USD per month)

    acls = _of_type(template, "AWS::WAFv2::WebACL")
    rules = sum(len(acl["Properties"].get("Rules", [])) for acl in acls)
    rows.append(
        (
            "WAF web ACLs / rules",
            f"{len(acls)} / {rules}",
            len(acls) * p["waf_web_acl_month"] + rules * p["waf_rule_month"],
        )
    )
    alarm_metrics = 0
    alarms = _of_type(template, "AWS::CloudWatch::Alarm")
    for alarm in alarms:
        metrics = alarm["Properties"].get("Metrics")
        # A metric-math alarm is billed per metric it reads.
        alarm_metrics += sum(1 for m in metrics if "MetricStat" in m) if metrics else 1
    rows.append(
        (
            "CloudWatch alarms (billed per metric)",
            f"{len(alarms)} ({alarm_metrics} metrics)",
            alarm_metrics * p["cloudwatch_alarm_metric_month"],
        )
    )
    dashboards = len(_of_type(template, "AWS::CloudWatch::Dashboard"))
    rows.append(("CloudWatch dashboards", str(dashboards), dashboards * p["cloudwatch_dashboard_month"]))
    secrets = len(_of_type(template, "AWS::SecretsManager::Secret"))
    rows.append(("Secrets Manager secrets", str(secrets), secrets * p["secretsmanager_secret_month"]))
    keys = len(_of_type(template, "AWS::KMS::Key"))
    rows.append(("KMS customer managed keys", str(keys), keys * p["kms_key_month"]))
    pools = len(_of_type(template, "AWS::Cognito::UserPool"))
    rows.append(("Cognito user pools (admins only)", str(pools), pools * p["cognito_user_pool_month"]))

    sqs_mappings = [
        m
        for m in _of_type(template, "AWS::Lambda::EventSourceMapping")
        if "Queue" in json.dumps(m["Properties"].get("EventSourceArn"))
    ]
    polls = len(sqs_mappings) * idle["sqs_polls_per_queue_month"]
    rows.append(
        (
            "SQS idle long polls (event source mappings)",
            f"{len(sqs_mappings)} queues",
            polls * p["sqs_request"],
        )
    )

    memory = {f.name: f.memory_mb / 1024 for f in FUNCTIONS}
    invocations = sum(runs_per_month(s.cron) for s in SCHEDULES)
    gb_seconds = sum(
        runs_per_month(s.cron) * memory.get(s.function, 0.5) * p["lambda_assumed_avg_duration_ms"] / 1000
        for s in SCHEDULES
    )
    sweeps = (
        invocations * (p["lambda_request"] + p["scheduler_invocation"] + p["xray_trace_recorded"])
        + gb_seconds * p["lambda_gb_second"]
        + invocations * idle["dynamodb_read_units_per_sweep"] * p["dynamodb_read_request_unit"]
    )
    rows.append(
        (
            f"schedules ({len(SCHEDULES)}): Lambda, Scheduler, X-Ray, DynamoDB",
            f"{invocations:,.0f} runs",
            sweeps,
        )
    )
    log_gb = invocations * idle["log_bytes_per_invocation"] / 1e9
    rows.append(
        (
            "CloudWatch Logs ingested (the schedules' runs)",
            f"{log_gb:.3f} GB",
            log_gb * p["cloudwatch_logs_ingested_gb"],
        )
    )
    stored_logs = idle["logs_stored_gb"][stage]
    rows.append(
        ("CloudWatch Logs stored", f"{stored_logs} GB", stored_logs * p["cloudwatch_logs_stored_gb_month"])
    )
    table_gb = idle["dynamodb_stored_gb"][stage]
    tables = len(_of_type(template, "AWS::DynamoDB::Table"))
    rows.append(
        (
            f"DynamoDB storage + PITR ({tables} tables)",
            f"{table_gb} GB",
            table_gb * (p["dynamodb_storage_gb_month"] + p["dynamodb_pitr_gb_month"]),
        )
    )
    total = sum(usd for *_, usd in rows)
    return {
        "stage": stage,
        "rows": [
            {"item": item, "quantity": quantity, "usd_month": round(usd, 2)} for item, quantity, usd in rows
        ],
        "total_usd_month": round(total, 2),
        "target_usd_month": TARGETS_USD.get(stage),
        "met": total <= TARGETS_USD[stage] if stage in TARGETS_USD else None,
    }


def measure(prices: dict[str, Any], stages: tuple[str, ...] = ("prod", "dev")) -> dict[str, Any]:
    return {stage: idle_cost(synthesize(stage), stage, prices) for stage in stages}


def print_result(result: dict[str, Any], prices: dict[str, Any]) -> None:
    for stage, cost in result.items():
        print(f"idle regional stack, {stage} stage settings ({prices['region']}), USD per month:")
        for row in cost["rows"]:
            print(f"  {row['item']:<52}{row['quantity']:>18}{row['usd_month']:>9.2f}")
        verdict = "met" if cost["met"] else "NOT met"
        target = f"target <= {cost['target_usd_month']:.0f}: {verdict}"
        print(f"  {'total':<52}{'':>18}{cost['total_usd_month']:>9.2f}  {target}")


if __name__ == "__main__":
    prices = json.loads((ROOT / "bench" / "prices.json").read_text())
    print_result(measure(prices), prices)

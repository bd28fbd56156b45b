"""Cold import of each function's handler module in a fresh process, as Lambda loads it, next to the
floor every DynamoDB-touching function pays: `import boto3` plus one client. Median of N runs after a
warm-up run (which fills the OS file cache, as a warm Lambda host would have it).

Byte code decides most of an import's cost (compiling a module from source costs several times
loading its .pyc), so both sides are measured the same way, twice, and never with whatever
`__pycache__` happens to lie in the working tree or the virtualenv:

- `source`: no byte code for any module (an empty PYTHONPYCACHEPREFIX): what our layers cost as
  built today (`infra/layer_build.py` installs with --no-compile and assets exclude *.pyc, so
  Lambda compiles Powertools, pydantic and cloudtill on every cold start);
- `bytecode`: byte code for every module, compiled by the warm-up run into a private prefix: what
  layers shipping .pyc for the Lambda Python would cost.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra.wiring import FUNCTIONS, FunctionSpec  # noqa: E402

FLOOR = "import boto3; boto3.client('dynamodb')"
# The handler plus the one client the floor creates: handlers create their clients on first use
# (cloudtill.ddb.client()), which nearly every invocation needs, so leaving it out would compare
# the floor's client against a handler that has not paid for one yet. (The publisher's client is
# EventBridge, a smaller service model; DynamoDB stands in for it.)
HANDLER = "import handler; import boto3; boto3.client('dynamodb')"
SHOP_ENV = {
    "TABLE_NAME": "bench",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
    "POWERTOOLS_METRICS_NAMESPACE": "cloudtill",
}


def function_env(spec: FunctionSpec) -> dict[str, str]:
    """The function's configured environment (as the stack sets it), with placeholder resource names:
    a cold start includes reading and validating the configuration."""
    sys.path.insert(0, str(ROOT / "layers" / "cloudtill" / "python"))
    from cloudtill.settings import ShopSettings

    from infra.environment import function_environment

    return function_environment(
        spec,
        stage="dev",
        shop=ShopSettings(),
        table_name="bench",
        idempotency_table_name="bench-idempotency",
        event_bus_name="bench",
        secret_arns={"stripe": "arn:aws:secretsmanager:eu-west-1:111111111111:secret:bench"},
        state_machine_arns={"order-lifecycle": "arn:aws:states:eu-west-1:111111111111:stateMachine:bench"},
        bucket_names={"reports": "bench-reports"},
    )


def timed_import(
    code: str,
    pythonpath: list[str],
    extra_env: dict[str, str] | None = None,
    *,
    pycache_prefix: str,
    write_bytecode: bool = False,
) -> float:
    probe = f"import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"
    env = {
        **os.environ,
        **SHOP_ENV,
        **(extra_env or {}),
        "PYTHONPATH": os.pathsep.join(pythonpath),
        # Byte code is read from and written to this folder only, never from the tree's __pycache__.
        "PYTHONPYCACHEPREFIX": pycache_prefix,
    }
    if write_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True, cwd=str(ROOT)
    )
    return float(out.stdout.strip().splitlines()[-1])


def median_of(
    code: str,
    pythonpath: list[str],
    runs: int,
    extra_env: dict[str, str] | None = None,
    *,
    bytecode: bool = False,
) -> float:
    """`bytecode`: the warm-up run compiles every module into a private prefix the runs then read;
    otherwise the prefix stays empty and every run compiles every module from source."""
    with tempfile.TemporaryDirectory(prefix="cold-start-pyc-") as prefix:
        timed_import(code, pythonpath, extra_env, pycache_prefix=prefix, write_bytecode=bytecode)  # warm-up
        return statistics.median(
            timed_import(code, pythonpath, extra_env, pycache_prefix=prefix) for _ in range(runs)
        )


def _measure_mode(runs: int, *, bytecode: bool) -> dict[str, Any]:
    layer = str(ROOT / "layers" / "cloudtill" / "python")
    floor = median_of(FLOOR, [layer], runs, bytecode=bytecode)
    rows = []
    for spec in FUNCTIONS:
        seconds = median_of(
            HANDLER,
            [str(ROOT / "functions" / spec.code_folder), layer],
            runs,
            function_env(spec),
            bytecode=bytecode,
        )
        ratio = round(seconds / floor, 2)
        rows.append({"function": spec.name, "import_s": round(seconds, 3), "ratio_to_floor": ratio})
    return {"floor_boto3_plus_client_s": round(floor, 3), "functions": rows}


def measure(runs: int = 5) -> dict[str, Any]:
    """The `source` figures (as the layers are built today) at the top level, which the target is
    checked against; the `bytecode` figures under "bytecode"."""
    return {
        "runs": runs,
        "bytecode_mode": "source",
        **_measure_mode(runs, bytecode=False),
        "bytecode": _measure_mode(runs, bytecode=True),
        "target_ratio": 1.2,
    }


def main() -> None:
    result = measure()
    for mode, measured in (("source", result), ("bytecode", result["bytecode"])):
        print(
            f"[{mode}] floor (import boto3 + one client): {measured['floor_boto3_plus_client_s']:.3f} s "
            f"(median of {result['runs']})"
        )
        print(f"{'function':<16}{'import s':>10}{'x floor':>10}  target <= {result['target_ratio']}x")
        for row in measured["functions"]:
            met = "met" if row["ratio_to_floor"] <= result["target_ratio"] else "NOT met"
            print(f"{row['function']:<16}{row['import_s']:>10.3f}{row['ratio_to_floor']:>10.2f}  {met}")
    out = ROOT / "bench" / "results" / "cold_start.json"
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""A function's environment variables: one pure function shared by the CDK stack and `localrt`.

No CDK types here: the stack passes CloudFormation tokens as the table/bus names, the local
runtime passes the names it created in moto, and both hand functions the very same variables,
which `cloudtill.settings.Settings` parses at cold start. What a function learns beyond the shared
resources follows from its spec's needs only (`secrets`, `buckets`, `workflows`).
"""

from __future__ import annotations

from collections.abc import Mapping

from cloudtill.settings import ShopSettings

from infra.wiring import BUCKETS, SECRETS, FunctionSpec

METRICS_NAMESPACE = "cloudtill"
LOG_LEVEL = "INFO"
STATE_MACHINE_VARIABLE = "STATE_MACHINE_ARN"
_SECRET_VARIABLES = {secret.name: secret.variable for secret in SECRETS}
_BUCKET_VARIABLES = {bucket.name: bucket.variable for bucket in BUCKETS}


def function_environment(
    spec: FunctionSpec,
    *,
    stage: str,
    shop: ShopSettings,
    table_name: str,
    idempotency_table_name: str,
    event_bus_name: str,
    secret_arns: Mapping[str, str] | None = None,
    state_machine_arns: Mapping[str, str] | None = None,
    bucket_names: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of the function `spec` in `stage`, selling with `shop`'s settings.

    `secret_arns`, `state_machine_arns` and `bucket_names` (by wiring name) reach only the functions
    whose spec needs them: a function without the Stripe secret does not even learn where it lives.
    """
    environment = {
        "POWERTOOLS_SERVICE_NAME": spec.name,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": LOG_LEVEL,
        "SERVICE_NAME": spec.name,
        "STAGE": stage,
        "TABLE_NAME": table_name,
        "IDEMPOTENCY_TABLE_NAME": idempotency_table_name,
        "EVENT_BUS_NAME": event_bus_name,
        "SHOP_SETTINGS": shop.model_dump_json(),
    }
    for secret in spec.secrets:
        if secret in (secret_arns or {}):
            environment[_SECRET_VARIABLES[secret]] = (secret_arns or {})[secret]
    if spec.state_machine is not None and spec.state_machine in (state_machine_arns or {}):
        # The order lifecycle: checkout starts executions; the others only resume task tokens.
        environment[STATE_MACHINE_VARIABLE] = (state_machine_arns or {})[spec.state_machine]
    for access in spec.buckets:
        if access.bucket in (bucket_names or {}):
            environment[_BUCKET_VARIABLES[access.bucket]] = (bucket_names or {})[access.bucket]
    return environment

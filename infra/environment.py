"""A function's environment variables: one pure function shared by the CDK stack and `localrt`.

No CDK types here: the stack passes CloudFormation tokens as the table/bus names, the local
runtime passes the names it created in moto, and both hand functions the very same variables,
which `cloudtill.settings.Settings` parses at cold start.
"""

from __future__ import annotations

from infra import _shared_layer_path  # noqa: F401  (puts the cloudtill package on sys.path)

# isort: split
from cloudtill.settings import ShopSettings

from infra.wiring import FunctionSpec

METRICS_NAMESPACE = "cloudtill"
LOG_LEVEL = "INFO"
REPORTS_BUCKET_VARIABLE = "REPORTS_BUCKET"
# Domains whose functions learn the reports bucket's name.
REPORTS_BUCKET_DOMAINS = frozenset({"reporting", "notifications"})


def function_environment(
    spec: FunctionSpec,
    *,
    stage: str,
    shop: ShopSettings,
    table_name: str,
    idempotency_table_name: str,
    event_bus_name: str,
    stripe_secret_arn: str | None = None,
    state_machine_arn: str | None = None,
    reports_bucket: str | None = None,
) -> dict[str, str]:
    """The environment of the function `spec` in `stage`, selling with `shop`'s settings.

    `stripe_secret_arn` reaches only functions with `uses_stripe`: every other function does
    not even learn where the Stripe key lives.
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
    if spec.uses_stripe and stripe_secret_arn is not None:
        environment["STRIPE_SECRET_ARN"] = stripe_secret_arn
    if state_machine_arn is not None:
        # The order lifecycle: checkout starts executions; the others only resume task tokens.
        environment["STATE_MACHINE_ARN"] = state_machine_arn
    if reports_bucket is not None and spec.domain in REPORTS_BUCKET_DOMAINS:
        # Only the reporting function (writes the reports) and notifications (links to them) learn the
        # reports bucket (in CDK the bucket is created after the functions: the constructs set the same
        # variable with `add_environment`).
        environment[REPORTS_BUCKET_VARIABLE] = reports_bucket
    return environment

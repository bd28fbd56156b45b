"""cdk-nag acknowledgements and checkov skips: always on one construct, always with the reason written down.

cdk-nag 3 runs as a CDK policy-validation plugin; `Validations.of(scope).acknowledge` records the
acknowledgement on `scope` (and what lies under it). Stack-wide or app-wide acknowledgements
are deliberately impossible through this helper. checkov (run on the synthesized templates by
tests/infra) reads skips from each resource's Metadata; `skip_checkov` writes them there.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Stack, Stage, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledges the cdk-nag finding `rule_id` (e.g. `AwsSolutions-IAM5[Resource::*]`) on `scope`."""
    if isinstance(scope, Stack | Stage):
        raise ValueError(f"acknowledge {rule_id} on the resource that needs it, not on a whole {scope}")
    if len(reason.strip()) < 20:
        raise ValueError(f"acknowledging {rule_id} needs a real reason, got {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def skip_checkov(scope: IConstruct, check_id: str, reason: str) -> None:
    """Skips the checkov check `check_id` (e.g. `CKV_AWS_117`) on the CloudFormation resource of
    `scope` (a CfnResource or an L2 construct's default child), with the reason in its Metadata
    (`checkov: skip: [{id, comment}]`, what checkov reads). Only ids in `CHECKOV_SKIPS` may be skipped:
    the list stays short and each entry is argued in docs/security.md."""
    if check_id not in CHECKOV_SKIPS:
        raise ValueError(f"{check_id} is not in CHECKOV_SKIPS: fix the finding, or add it there with why")
    if len(reason.strip()) < 20:
        raise ValueError(f"skipping {check_id} needs a real reason, got {reason!r}")
    resource = scope if isinstance(scope, CfnResource) else scope.node.default_child
    if not isinstance(resource, CfnResource):
        raise ValueError(f"skip {check_id} on a CloudFormation resource, not on {scope}")
    current = resource.get_metadata("checkov") or {}
    skips = [s for s in current.get("skip", []) if s["id"] != check_id]
    resource.add_metadata("checkov", {"skip": [*skips, {"id": check_id, "comment": reason}]})


# Every log group of the stack (functions, API access logs, state machine) skips CKV_AWS_158 for this.
LOG_GROUP_KMS_REASON = (
    "CloudWatch Logs encrypts at rest by default; the logs carry no customer data (no data trace, "
    "no execution data, the log-hygiene test scans for e-mails and secrets), so a customer managed "
    "key would add a key policy per service and cost without a reader to keep out."
)


# The checkov checks the stack skips, each on the resources named where `skip_checkov` is called.
CHECKOV_SKIPS: dict[str, str] = {
    "CKV_AWS_115": "Lambda reserved concurrency",
    "CKV_AWS_116": "Lambda dead-letter queue",
    "CKV_AWS_117": "Lambda inside a VPC",
    "CKV_AWS_173": "Lambda environment encrypted with a customer managed key",
    "CKV_AWS_158": "CloudWatch log group encrypted with a customer managed key",
    "CKV_AWS_119": "DynamoDB table encrypted with a customer managed key",
    "CKV_AWS_149": "Secrets Manager secret encrypted with a customer managed key",
    "CKV_AWS_27": "SQS queue encrypted with a KMS key",
    "CKV_AWS_18": "S3 access logging",
    "CKV_AWS_21": "S3 versioning",
    "CKV_AWS_120": "API Gateway caching",
    "CKV_AWS_59": "API method without authorization",
    "CKV_AWS_111": "IAM write access without resource constraint",
}

"""cdk-nag acknowledgements: always on one construct, always with the reason written down.

cdk-nag 3 runs as a CDK policy-validation plugin; `Validations.of(scope).acknowledge` records the
acknowledgement on `scope` (and what lies under it). Stack-wide or app-wide acknowledgements
are deliberately impossible through this helper.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Stage, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledges the cdk-nag finding `rule_id` (e.g. `AwsSolutions-IAM5[Resource::*]`) on `scope`."""
    if isinstance(scope, Stack | Stage):
        raise ValueError(f"acknowledge {rule_id} on the resource that needs it, not on a whole {scope}")
    if len(reason.strip()) < 20:
        raise ValueError(f"acknowledging {rule_id} needs a real reason, got {reason!r}")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))

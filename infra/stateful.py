"""Stateful resources: what a deploy must never replace, and what prod keeps when its stack goes.

A stateful resource's logical ID is its identity to CloudFormation: `tests/infra/stateful_resources.json`
holds them and `tests/infra/test_stateful.py` fails when one changes (docs/infrastructure.md, 'Upgrades').
"""

from __future__ import annotations

from aws_cdk import RemovalPolicies, Stack

# Resource types whose replacement loses data or something an operator set up by hand.
STATEFUL_TYPES: dict[str, str] = {
    "AWS::DynamoDB::Table": "orders, stock, checkouts, idempotency records",
    "AWS::S3::Bucket": "report files",
    "AWS::Cognito::UserPool": "back-office users, their passwords and MFA",
    "AWS::Events::EventBus": "the bus rules, archives and other accounts point at",
    "AWS::SQS::Queue": "events waiting for a consumer, failures parked in DLQs",
    "AWS::SecretsManager::Secret": "the Stripe keys an operator stored",
    "AWS::KMS::Key": "whatever it encrypted",
}


def retain_stateful_resources(stack: Stack) -> None:
    """RETAIN (on delete and on replacement) for every stateful resource of the stack, whatever
    its construct chose: a deleted prod stack leaves its data behind to be re-imported."""
    RemovalPolicies.of(stack).retain(apply_to_resource_types=sorted(STATEFUL_TYPES))

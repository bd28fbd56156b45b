"""Data domain: the DynamoDB tables declared in `infra/wiring.py` (TABLES)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.acknowledgements import skip_checkov
from infra.wiring import IDEMPOTENCY_TABLE, MAIN_TABLE, TABLES, TableSpec


def _string_key(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class DataTables(Construct):
    """Every table of the wiring: on-demand, PITR, deletion protection, retained on stack delete."""

    def __init__(self, scope: Construct, construct_id: str, *, specs: tuple[TableSpec, ...] = TABLES) -> None:
        super().__init__(scope, construct_id)
        self.tables: dict[str, dynamodb.Table] = {spec.logical_name: self._table(spec) for spec in specs}

    @property
    def main(self) -> dynamodb.Table:
        return self.tables[MAIN_TABLE.logical_name]

    @property
    def idempotency(self) -> dynamodb.Table:
        return self.tables[IDEMPOTENCY_TABLE.logical_name]

    def _table(self, spec: TableSpec) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            f"{spec.logical_name}Table",
            partition_key=_string_key(spec.partition_key),
            sort_key=_string_key(spec.sort_key) if spec.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            # Orders and stock ledgers outlive any stack: deleting the stack must not delete them.
            removal_policy=RemovalPolicy.RETAIN,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute=spec.ttl_attribute,
            # The main table's stream feeds the transactional outbox (docs/data-model.md).
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES if spec.stream else None,
        )
        skip_checkov(
            table,
            "CKV_AWS_119",
            "Encrypted with the AWS managed KMS key (aws/dynamodb, key use logged in CloudTrail); a "
            "customer managed key would need kms grants on every function and stream consumer and a "
            "key policy to keep, for no cross-account reader to keep out.",
        )
        for index_name, (partition_key, sort_key) in spec.global_indexes.items():
            table.add_global_secondary_index(
                index_name=index_name,
                partition_key=_string_key(partition_key),
                sort_key=_string_key(sort_key),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        return table

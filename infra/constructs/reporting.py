"""Reporting domain: the aggregates consumer + nightly report function and the reports bucket.

The bucket holds `reports/YYYY/MM/DD/{report.json, skus.csv, order-lines.csv, report.html}`: encrypted
(SSE-S3), public access blocked, TLS enforced by the bucket policy, a lifecycle rule (older reports
move to Infrequent Access, then Glacier Instant Retrieval; unfinished uploads are cleaned up), and
RETAIN: deleting the stack never deletes the shop's reports.

Table access (declared on the spec in `infra/wiring.py`) is scoped with `dynamodb:LeadingKeys` to the
reporting items (`AGG#…` aggregates and
dedupe markers, `CUSTOMER#…` first-order markers) plus outbox puts (`OUTBOX#…`, ReportReady): the
function can never read or change an order, checkout or stock item.
"""

from __future__ import annotations

from aws_cdk import CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.acknowledgements import acknowledge, skip_checkov
from infra.constructs.domain import DomainFunctions
from infra.environment import REPORTS_BUCKET_VARIABLE
from infra.function_factory import FunctionDependencies, FunctionFactory
from infra.wiring import FunctionSpec

REPORTS_PREFIX = "reports/*"


class ReportingDomain(DomainFunctions):
    domain = "reporting"

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        factory: FunctionFactory,
        dependencies: FunctionDependencies,
        specs: tuple[FunctionSpec, ...],
    ) -> None:
        # `grant` runs inside the base constructor, so the bucket must exist before it.
        Construct.__init__(self, scope, construct_id)
        self.reports_bucket = self._bucket()
        self.functions: dict[str, lambda_.Function] = {}
        for spec in specs:
            function = factory.create(self, spec)
            self.grant(spec, function, dependencies)
            self.functions[spec.name] = function

    def _bucket(self) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "ReportsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=False,  # a re-run rewrites identical bytes; older content has no value
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="age-reports",
                    prefix="reports/",
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=Duration.days(90),
                        ),
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=Duration.days(365),
                        ),
                    ],
                )
            ],
        )
        acknowledge(
            bucket,
            "AwsSolutions-S1",
            "Only the reporting function writes here and ops read through presigned links; object-level "
            "access is audited with CloudTrail data events rather than a second access-log bucket.",
        )
        skip_checkov(
            bucket,
            "CKV_AWS_18",
            "Only the reporting function writes here and ops read through presigned links; object access "
            "is audited with CloudTrail data events rather than a second access-log bucket.",
        )
        skip_checkov(
            bucket,
            "CKV_AWS_21",
            "Reports are derived data: a re-run rewrites identical bytes from the table, so older "
            "versions have no value and would only add storage.",
        )
        return bucket

    def grant(
        self, spec: FunctionSpec, function: lambda_.Function, dependencies: FunctionDependencies
    ) -> None:
        # Table access (AGG#/CUSTOMER# items, OUTBOX# puts) is the spec's `table_access`.
        # Exactly what the report store does: put and get objects under reports/, and list (only so
        # that a missing report answers NoSuchKey, i.e. 404, rather than AccessDenied).
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReportObjects",
                actions=["s3:PutObject", "s3:GetObject"],
                resources=[self.reports_bucket.arn_for_objects(REPORTS_PREFIX)],
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="ListReports",
                actions=["s3:ListBucket"],
                resources=[self.reports_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [REPORTS_PREFIX]}},
            )
        )
        role = function.role
        if role is None:  # pragma: no cover - the factory always gives functions a role
            raise ValueError(f"{function} has no role")
        bucket_resource = self.reports_bucket.node.default_child
        assert isinstance(bucket_resource, CfnResource)
        bucket_id = Stack.of(self).get_logical_id(bucket_resource)
        acknowledge(
            role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/reports/*]",
            "The report files of every day live under reports/YYYY/MM/DD/: put/get on that prefix only.",
        )
        function.add_environment(REPORTS_BUCKET_VARIABLE, self.reports_bucket.bucket_name)

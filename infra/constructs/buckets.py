"""The stack's S3 buckets, one per `BucketSpec` of the wiring: encrypted (SSE-S3), public access
blocked, TLS enforced by the bucket policy, owner-enforced objects, a lifecycle rule on the objects'
prefix (older objects move to Infrequent Access, then Glacier Instant Retrieval; unfinished uploads are
cleaned up), and RETAIN: deleting the stack never deletes the shop's files.

Functions reach a bucket only through their spec's `buckets` (the function factory grants the object
actions under the prefix and hands them the name).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.acknowledgements import acknowledge, skip_checkov
from infra.wiring import BucketSpec


def bucket(scope: Construct, spec: BucketSpec) -> s3.Bucket:
    """The bucket `spec`, built in `scope` (its domain's construct) as `<Name>Bucket`."""
    built = s3.Bucket(
        scope,
        f"{spec.name.capitalize()}Bucket",
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=False,  # a re-run rewrites identical bytes; older content has no value
        removal_policy=RemovalPolicy.RETAIN,
        lifecycle_rules=[
            s3.LifecycleRule(
                id=f"age-{spec.name}",
                prefix=spec.prefix,
                abort_incomplete_multipart_upload_after=Duration.days(7),
                transitions=[
                    s3.Transition(
                        storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                        transition_after=Duration.days(spec.infrequent_access_after_days),
                    ),
                    s3.Transition(
                        storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                        transition_after=Duration.days(spec.glacier_after_days),
                    ),
                ],
            )
        ],
    )
    acknowledge(
        built,
        "AwsSolutions-S1",
        "Only the functions its wiring names write here and ops read through presigned links; object-level "
        "access is audited with CloudTrail data events rather than a second access-log bucket.",
    )
    skip_checkov(
        built,
        "CKV_AWS_18",
        "Only the functions its wiring names write here and ops read through presigned links; object access "
        "is audited with CloudTrail data events rather than a second access-log bucket.",
    )
    skip_checkov(
        built,
        "CKV_AWS_21",
        "Derived data: a re-run rewrites identical bytes from the table, so older versions have no value "
        "and would only add storage.",
    )
    return built

"""Lambda SnapStart (a stage setting, off by default): what must not survive a snapshot restore.

A SnapStart cold start resumes a memory snapshot taken after init, possibly days earlier and in many
execution environments at once. Handlers create their AWS clients on first use, after the restore,
so nothing created during init is normally in the snapshot; this hook makes sure of it anyway:
after a restore it drops the cached DynamoDB client and boto3's default session (credentials and
connections of the snapshot's environment), Powertools' cached parameters and secrets (the Stripe
key and webhook secrets are read again), and re-seeds `random` (retry jitter must not be the same
in every restored environment). Outside SnapStart `snapshot_restore_py` does not exist and nothing
is registered.
"""

from __future__ import annotations

import random
import sys

try:  # Provided by Lambda's Python runtime (3.12+) with SnapStart only.
    from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - every environment but a SnapStart one
    register_after_restore = None


def forget_snapshot_state() -> None:
    """Drops what a restored snapshot must not reuse; cheap, and safe to call at any time."""
    ddb = sys.modules.get("cloudtill.ddb")
    if ddb is not None:
        ddb.client.cache_clear()
    boto3 = sys.modules.get("boto3")
    if boto3 is not None:
        boto3.DEFAULT_SESSION = None  # type: ignore[attr-defined]
    parameters = sys.modules.get("aws_lambda_powertools.utilities.parameters")
    if parameters is not None:
        parameters.clear_caches()
    random.seed()


if register_after_restore is not None:
    register_after_restore(forget_snapshot_state)

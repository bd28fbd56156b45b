"""`make admin-token`: a back-office user's Cognito ID token, first sign-in (new password, MFA set-up)
and later ones (TOTP code), against moto's Cognito (in process: no sockets)."""

from __future__ import annotations

import base64
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import moto
import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPORARY, PERMANENT = "Temp-Passw0rd!x", "Chosen-Passw0rd!x"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("admin_token", ROOT / "scripts" / "admin_token.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str, str]]:
    # Given the stack's pool as CDK builds it: MFA (TOTP) required, an app client allowing admin auth,
    # and a user an operator invited into the admin group
    for name, value in {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with moto.mock_aws():
        cognito = boto3.client("cognito-idp", region_name="eu-west-1")
        pool_id = cognito.create_user_pool(PoolName="admins", MfaConfiguration="OFF")["UserPool"]["Id"]
        cognito.set_user_pool_mfa_config(
            UserPoolId=pool_id, SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="ON"
        )
        client_id = cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="admin",
            ExplicitAuthFlows=[
                "ALLOW_USER_SRP_AUTH",
                "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                "ALLOW_REFRESH_TOKEN_AUTH",
            ],
        )["UserPoolClient"]["ClientId"]
        cognito.create_group(UserPoolId=pool_id, GroupName="admin")
        cognito.admin_create_user(UserPoolId=pool_id, Username="ann@shop.test", TemporaryPassword=TEMPORARY)
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username="ann@shop.test", GroupName="admin")
        yield cognito, pool_id, client_id


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_first_sign_in_sets_the_password_and_the_authenticator_then_gives_an_id_token(
    pool: tuple[Any, str, str],
) -> None:
    cognito, pool_id, client_id = pool
    answers = {"Password": TEMPORARY, "New password": PERMANENT, "Code from the app": "123456"}
    asked: list[str] = []
    told: list[str] = []

    def ask(prompt: str, secret: bool) -> str:
        asked.append(prompt)
        return answers[prompt]

    # When the helper signs the invited user in for the first time
    token = _script().admin_id_token(cognito, pool_id, client_id, "ann@shop.test", ask, told.append)

    # Then it asked for the password, a new one and a code from the app it showed the key for
    assert asked == ["Password", "New password", "Code from the app"]
    assert any("otpauth://totp/cloudtill:ann%40shop.test?secret=" in line for line in told)
    # and the token is the user's ID token, in the admin group
    claims = _claims(token)
    assert claims["token_use"] == "id"
    assert claims["cognito:groups"] == ["admin"]

    # And the next sign-in needs only the permanent password (and the TOTP code when Cognito asks)
    later = {"Password": PERMANENT, "Code from your authenticator app": "123456"}
    token = _script().admin_id_token(
        cognito, pool_id, client_id, "ann@shop.test", lambda p, s: later[p], told.append
    )
    assert _claims(token)["token_use"] == "id"


def test_the_pool_comes_from_the_stack_outputs() -> None:
    class Stacks:
        def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803 (boto3's name)
            assert StackName == "cloudtill-prod-eu-west-1"
            outputs = [{"OutputKey": "AdminUserPoolId", "OutputValue": "eu-west-1_x"}]
            return {"Stacks": [{"Outputs": outputs}]}

    assert _script().stack_outputs(Stacks(), "cloudtill-prod-eu-west-1") == {"AdminUserPoolId": "eu-west-1_x"}

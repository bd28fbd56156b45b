"""Print a Cognito ID token of a back-office user, to call the `/admin` routes of a deployed stack.

    make -s admin-token STAGE=prod REGION=eu-west-1 USERNAME=ann@shop.example
    ADMIN_TOKEN=$(make -s admin-token STAGE=prod REGION=eu-west-1 USERNAME=ann@shop.example)

Uses your AWS credentials (allowed `cloudformation:DescribeStacks` and `cognito-idp:AdminInitiateAuth`
/ `AdminRespondToAuthChallenge` on the pool) to sign the user in with their password and TOTP code.
On a first sign-in it also sets the permanent password and registers the authenticator app. Prompts
go to the terminal; only the token is printed on stdout. `ADMIN_PASSWORD` and `ADMIN_TOTP_CODE` in
the environment answer the prompts (for scripts). The token is valid for an hour.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

Ask = Callable[[str, bool], str]  # (prompt, secret) -> answer
Tell = Callable[[str], None]


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    [stack] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def admin_id_token(cognito: Any, pool_id: str, client_id: str, username: str, ask: Ask, tell: Tell) -> str:
    """Signs `username` in (ADMIN_USER_PASSWORD_AUTH) and answers Cognito's challenges until it
    hands out tokens; returns the ID token (the one API Gateway's Cognito authorizer takes)."""
    answer = cognito.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": ask("Password", True)},
    )
    for _ in range(5):  # a first sign-in: new password, then MFA set-up; later: the TOTP code
        if "AuthenticationResult" in answer:
            return str(answer["AuthenticationResult"]["IdToken"])
        challenge, session = answer.get("ChallengeName"), answer.get("Session")
        responses = {"USERNAME": username}
        if challenge == "NEW_PASSWORD_REQUIRED":
            tell("First sign-in: choose a permanent password (12+ characters, upper, lower, digit, symbol).")
            responses["NEW_PASSWORD"] = ask("New password", True)
        elif challenge == "MFA_SETUP":
            secret = cognito.associate_software_token(Session=session)
            uri = f"otpauth://totp/cloudtill:{quote(username)}?secret={secret['SecretCode']}&issuer=cloudtill"
            tell(f"Add this key to your authenticator app: {secret['SecretCode']}\n  ({uri})")
            verified = cognito.verify_software_token(
                Session=secret["Session"], UserCode=ask("Code from the app", False), FriendlyDeviceName="totp"
            )
            session = verified["Session"]
        elif challenge == "SOFTWARE_TOKEN_MFA":
            responses["SOFTWARE_TOKEN_MFA_CODE"] = ask("Code from your authenticator app", False)
        else:
            raise SystemExit(f"Cognito asks for {challenge!r}, which this helper does not answer.")
        answer = cognito.admin_respond_to_auth_challenge(
            UserPoolId=pool_id,
            ClientId=client_id,
            ChallengeName=challenge,
            Session=session,
            ChallengeResponses=responses,
        )
    raise SystemExit("Cognito did not hand out a token after the expected challenges.")


# Prompts the environment may answer (scripts); a first sign-in's prompts are always asked.
PRESETS = {"Password": "ADMIN_PASSWORD", "Code from your authenticator app": "ADMIN_TOTP_CODE"}


def _terminal_ask(prompt: str, secret: bool) -> str:
    preset = os.environ.get(PRESETS.get(prompt, ""), "")
    if preset:
        return preset
    if secret:
        return getpass.getpass(f"{prompt}: ", stream=sys.stderr)
    print(f"{prompt}: ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--username", required=True, help="the user's e-mail address")
    args = parser.parse_args()

    import boto3

    outputs = stack_outputs(
        boto3.client("cloudformation", region_name=args.region), f"cloudtill-{args.stage}-{args.region}"
    )
    token = admin_id_token(
        boto3.client("cognito-idp", region_name=args.region),
        outputs["AdminUserPoolId"],
        outputs["AdminUserPoolClientId"],
        args.username,
        _terminal_ask,
        lambda message: print(message, file=sys.stderr),
    )
    print(token)


if __name__ == "__main__":
    main()

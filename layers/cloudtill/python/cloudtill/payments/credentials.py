"""Where the Stripe API key and webhook secrets come from: Secrets Manager in AWS, settings locally.

In AWS, `STRIPE_SECRET_ARN` names a JSON secret `{"api_key", "webhook_secret", "previous_webhook_secret"?}`
read through Powertools parameters, cached for 5 minutes (a rotation is picked up without a deploy).
Values are `SecretStr`: they never reach a log line or a repr.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from cloudtill.settings import Settings

CACHE_SECONDS = 300


@dataclass(frozen=True)
class StripeCredentials:
    api_key: SecretStr
    # Current first; during a rotation also the previous one.
    webhook_secrets: tuple[SecretStr, ...]


class MissingStripeCredentials(RuntimeError):
    pass


class StripeCredentialsSource:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def get(self) -> StripeCredentials:
        if self._settings.stripe_secret_arn:
            return self._from_secrets_manager(self._settings.stripe_secret_arn)
        key, current = self._settings.stripe_api_key, self._settings.stripe_webhook_secret
        if key is None or current is None:
            raise MissingStripeCredentials(
                "set STRIPE_SECRET_ARN (AWS) or STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET (local)"
            )
        previous = self._settings.stripe_webhook_secret_previous
        return StripeCredentials(key, (current, previous) if previous else (current,))

    @staticmethod
    def _from_secrets_manager(arn: str) -> StripeCredentials:
        # Imported here: only the first Stripe call of a cold start pays for it.
        from aws_lambda_powertools.utilities.parameters import get_secret

        data = get_secret(arn, transform="json", max_age=CACHE_SECONDS)
        if not isinstance(data, dict) or not data.get("api_key") or not data.get("webhook_secret"):
            raise MissingStripeCredentials("the Stripe secret needs api_key and webhook_secret")
        secrets = [SecretStr(str(data["webhook_secret"]))]
        if data.get("previous_webhook_secret"):
            secrets.append(SecretStr(str(data["previous_webhook_secret"])))
        return StripeCredentials(SecretStr(str(data["api_key"])), tuple(secrets))

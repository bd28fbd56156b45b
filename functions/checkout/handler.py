"""Checkout code (thin handler): `api_handler` creates and reads checkouts, lists shipping methods and
administers promotions; `schedule_handler` is the `release-expired-checkouts` sweep (its own function
in the wiring, `checkout-expiry`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from cloudtill import ddb
from cloudtill.api import create_app, handle
from cloudtill.checkout import tokens
from cloudtill.checkout.api import (
    CheckoutIn,
    CheckoutOut,
    CreatedCheckoutOut,
    ShippingMethodsOut,
)
from cloudtill.checkout.dynamo import DynamoCheckoutRepository
from cloudtill.checkout.service import CheckoutService, PromotionService
from cloudtill.clock import SystemClock
from cloudtill.errors import Conflict, FieldError, ValidationFailed
from cloudtill.observability import logger, metrics
from cloudtill.payments.checkout_payments import StripeCheckoutPayments
from cloudtill.payments.credentials import StripeCredentialsSource
from cloudtill.payments.dynamo import DynamoPaymentStore
from cloudtill.payments.stripe_adapter import StripePaymentGateway
from cloudtill.promotions.dynamo import DynamoPromotionRepository
from cloudtill.promotions.rules import PromotionIn, PromotionOut
from cloudtill.settings import get_settings
from cloudtill.workflow import StepFunctionsWorkflow

if TYPE_CHECKING:
    # Imported where used: only a create with an Idempotency-Key needs Powertools idempotency.
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

settings = get_settings()
app = create_app()

IDEMPOTENCY_HEADER = "Idempotency-Key"
TOKEN_HEADER = "X-Checkout-Token"  # noqa: S105 - a header name, not a secret
IDEMPOTENCY_WINDOW_SECONDS = 24 * 60 * 60
MAX_IDEMPOTENCY_KEY_LENGTH = 255
# Records are `checkout.create#<sha256 of the key>`: the prefix the function's IAM grant allows.
IDEMPOTENCY_KEY_PREFIX = "checkout.create"
# The checkout this invocation created, when the idempotent create ran (not replayed).
_just_created: ContextVar[CreatedCheckoutOut | None] = ContextVar("just_created", default=None)


@functools.cache
def checkouts() -> CheckoutService:
    repository = DynamoCheckoutRepository(settings.table_name)
    credentials = StripeCredentialsSource(settings)
    payments = StripeCheckoutPayments(
        StripePaymentGateway(lambda: credentials.get().api_key.get_secret_value(), settings.stripe_api_base),
        DynamoPaymentStore(settings.table_name),
        SystemClock(),
        capture_manual=settings.payment_capture == "manual",
    )
    return CheckoutService(
        repository,
        SystemClock(),
        settings.shop_settings,
        settings.checkout_ttl_seconds,
        payments,
        lifecycle=StepFunctionsWorkflow(settings.state_machine_arn),
    )


@functools.cache
def promotions() -> PromotionService:
    return PromotionService(
        DynamoPromotionRepository(settings.table_name), SystemClock(), settings.shop_settings.currency
    )


def _create_with_key(request: dict[str, Any]) -> dict[str, Any]:
    """Runs once per (Idempotency-Key, body) within 24 h; Powertools stores what it returns: the
    checkout's id and the token's salt, nothing personal (no e-mail, address or client secret: the
    record lies outside export and erasure) and not the token (see cloudtill.checkout.tokens)."""
    salt = tokens.new_salt()
    token = tokens.token_for_idempotency_key(salt, request["idempotency_key"])
    created = checkouts().create_checkout(CheckoutIn.model_validate(request["body"]), token)
    _just_created.set(created)
    return {"checkout_id": created.id, "token_salt": salt}


@functools.cache
def idempotent_create() -> tuple[IdempotencyConfig, Callable[..., dict[str, Any]]]:
    """Built on first use (not at import), with its own persistence layer object."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    config = IdempotencyConfig(
        event_key_jmespath="idempotency_key",
        payload_validation_jmespath="body",
        expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS,
        hash_function="sha256",
    )
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table_name, boto3_client=ddb.client()
    )
    create = idempotent_function(
        data_keyword_argument="request",
        config=config,
        persistence_store=persistence,
        key_prefix=IDEMPOTENCY_KEY_PREFIX,
    )(_create_with_key)
    return config, create


def _create_idempotently(idempotency_key: str, body: CheckoutIn) -> CreatedCheckoutOut:
    config, create = idempotent_create()
    # Loaded with idempotent_create() above, so a request without the header never imports them.
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    config.register_lambda_context(app.lambda_context)
    _just_created.set(None)
    try:
        stored = create(request={"idempotency_key": idempotency_key, "body": body.model_dump(mode="json")})
    except IdempotencyValidationError:
        raise ValidationFailed(
            f"This {IDEMPOTENCY_HEADER} was already used with a different request body.",
            [FieldError(IDEMPOTENCY_HEADER, "already used with a different request body")],
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise Conflict(
            f"A request with this {IDEMPOTENCY_HEADER} is still being processed; retry shortly.",
            [FieldError(IDEMPOTENCY_HEADER, "a request with this key is in progress")],
        ) from None
    created = _just_created.get()
    if created is not None:
        return created
    # A replay: the checkout as it is now (erased data stays erased), with the same derived token.
    token = tokens.token_for_idempotency_key(stored["token_salt"], idempotency_key)
    checkout = checkouts().get_checkout(stored["checkout_id"], token)
    return CreatedCheckoutOut(**checkout.model_dump(), token=token)


@app.post(
    "/checkouts",
    summary="Create a checkout: price the lines and reserve the stock",
    tags=["checkout"],
    status_code=201,
)
def create_checkout(
    body: CheckoutIn,
    idempotency_key: Annotated[
        str | None, Header(alias=IDEMPOTENCY_HEADER, description="1..255 characters; replays within 24 h")
    ] = None,
) -> Response[CreatedCheckoutOut]:
    # Checked here rather than by Header(min_length=...) so the problem names the header as
    # documented (`Idempotency-Key`), not in the lower case API Gateway may deliver it in.
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ValidationFailed.for_field(IDEMPOTENCY_HEADER, f"1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters")
    if idempotency_key is None:
        created = checkouts().create_checkout(body, tokens.new_token())
    else:
        created = _create_idempotently(idempotency_key, body)
    metrics.add_metric(name="CheckoutCreated", unit="Count", value=1)
    return Response(status_code=201, content_type="application/json", body=created)


@app.get("/checkouts/<checkout_id>", summary="Get a checkout (needs its X-Checkout-Token)", tags=["checkout"])
def get_checkout(
    checkout_id: Annotated[str, Path(max_length=128)],
    token: Annotated[str | None, Header(alias=TOKEN_HEADER, max_length=512)] = None,
) -> CheckoutOut:
    return checkouts().get_checkout(checkout_id, token)


@app.get("/shipping-methods", summary="Shipping methods and prices for a country", tags=["checkout"])
def list_shipping_methods(
    country: Annotated[str, Query(min_length=2, max_length=2, examples=["IE"])],
) -> ShippingMethodsOut:
    return checkouts().shipping_methods(country)


@app.post("/admin/promotions", summary="Create a promotion code", tags=["admin"], status_code=201)
def create_promotion(body: PromotionIn) -> Response[PromotionOut]:
    created = promotions().create_promotion(body)
    return Response(status_code=201, content_type="application/json", body=created)


@app.get("/admin/promotions/<code>", summary="Get a promotion with its redemption count", tags=["admin"])
def get_promotion(code: Annotated[str, Path(max_length=64)]) -> PromotionOut:
    return promotions().get_promotion(code)


def release_expired_checkouts(event: dict[str, Any]) -> dict[str, Any]:
    """The `release-expired-checkouts` schedule: expire every checkout whose reservations ran out."""
    result = checkouts().release_expired()
    logger.info("expired checkouts released", extra=result.model_dump())
    metrics.add_metric(name="CheckoutExpired", unit="Count", value=result.expired)
    metrics.add_metric(name="CheckoutExpiryFailed", unit="Count", value=result.failed)
    return result.model_dump()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def api_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, event, context, settings.max_request_body_bytes)


@logger.inject_lambda_context
@metrics.log_metrics
def schedule_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return release_expired_checkouts(event)

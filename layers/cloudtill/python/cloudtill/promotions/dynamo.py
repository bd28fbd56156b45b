"""DynamoDB adapter of the promotion port: the promotion item `PROMO#<code>`/`PROMO` holds the rules
and the `redeemed` counter, which checkout transactions increment under `redeemed < max`."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from cloudtill import ddb, keys
from cloudtill.checkout.records import StoredPromotion
from cloudtill.errors import Conflict, FieldError
from cloudtill.promotions.rules import Promotion

_RULE_FIELDS = (
    "code",
    "kind",
    "value",
    "currency",
    "min_subtotal",
    "starts_at",
    "ends_at",
    "max_redemptions",
    "max_per_email",
    "active",
)


def promotion_item(promotion: Promotion, created_at: str) -> dict[str, Any]:
    pk, sk = keys.promotion(promotion.code)
    rules = promotion.model_dump(mode="json")
    return {"PK": pk, "SK": sk, "entity": "promotion", **rules, "redeemed": 0, "created_at": created_at}


def promotion_from_item(item: dict[str, Any]) -> StoredPromotion:
    rules = {name: item[name] for name in _RULE_FIELDS if name in item}
    return StoredPromotion(Promotion.model_validate(rules), redeemed=int(item.get("redeemed", 0)))


@ddb.transient_errors
class DynamoPromotionRepository:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self._table = table_name
        self._client = client or ddb.client()

    def create(self, promotion: Promotion, created_at: str) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=ddb.to_item(promotion_item(promotion, created_at)),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as error:
            if ddb.is_conditional_failure(error):
                raise Conflict(
                    f"Promotion {promotion.code} already exists.",
                    [FieldError("code", f"{promotion.code} already exists")],
                ) from None
            raise

    def get(self, code: str) -> StoredPromotion | None:
        pk, sk = keys.promotion(code)
        item = self._client.get_item(TableName=self._table, Key=ddb.key(pk, sk), ConsistentRead=True).get(
            "Item"
        )
        return promotion_from_item(ddb.from_item(item)) if item else None

"""DynamoDB adapter of the promotion port: the promotion item `PROMO#<code>`/`PROMO` holds the rules
(as top-level attributes) and the `redeemed` counter, which checkout transactions increment under
`redeemed < max`."""

from __future__ import annotations

from botocore.exceptions import ClientError

from cloudtill import ddb, keys
from cloudtill.ddb_codec import Attr, ItemCodec
from cloudtill.errors import Conflict, FieldError
from cloudtill.promotions.records import StoredPromotion
from cloudtill.promotions.rules import Promotion

PROMOTION_ITEM = ItemCodec(
    StoredPromotion,
    entity="promotion",
    keys=lambda p: keys.item_keys(keys.promotion(p.promotion.code)),
    attrs={"redeemed": Attr(default=0)},
    inline=("promotion",),
)


@ddb.transient_errors
class DynamoPromotionRepository(ddb.TableAdapter):
    def create(self, promotion: Promotion, created_at: str) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=PROMOTION_ITEM.item(StoredPromotion(promotion, redeemed=0, created_at=created_at)),
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
        item = ddb.get_item(self._client, self._table, keys.promotion(code))
        return PROMOTION_ITEM.from_item(item) if item else None

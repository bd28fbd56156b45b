"""DynamoDB adapter of the catalog port.

Items: the product (`PRODUCT#id`/`PRODUCT`, variants inline, in GSI1 `PRODUCTS` and GSI2 `CATEGORY#slug`
while active), one SKU item per variant (`SKU#sku`/`SKU`: uniqueness claim, price copy for checkout,
stock counters owned by the stock domain) and one item per category. Every change is one transaction.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from cloudtill import ddb, keys
from cloudtill.catalog.records import ProductRecord, VariantRecord
from cloudtill.ddb_codec import Attr, ItemCodec
from cloudtill.errors import DuplicateSku, FieldError, NotFound, VersionConflict
from cloudtill.stock.items import SKU_ITEM
from cloudtill.stock.records import SkuRecord

PRODUCT_ITEM = ItemCodec(
    ProductRecord,
    entity="product",
    keys=lambda p: keys.item_keys(
        keys.product(p.id),
        gsi1=(keys.ACTIVE_PRODUCTS, p.id),
        gsi2=(keys.category_index(p.category), p.id),
    ),
    attrs={"description": Attr(default="")},
)


@ddb.transient_errors
class DynamoProductRepository(ddb.TableAdapter):
    def get(self, product_id: str) -> ProductRecord | None:
        item = ddb.get_item(self._client, self._table, keys.product(product_id))
        return PRODUCT_ITEM.from_item(item) if item else None

    def list_active(
        self, category: str | None, limit: int, cursor: str | None
    ) -> tuple[list[ProductRecord], str | None]:
        if category is None:
            index, pk_value = "GSI1", keys.ACTIVE_PRODUCTS
        else:
            index, pk_value = "GSI2", keys.category_index(category)
        pk_attr = f"{index}PK"
        # A cursor starts inside this index partition, at a product item.
        product_pk_prefix, product_sk = keys.product("")
        scope = ddb.CursorScope(
            equal={pk_attr: pk_value, "SK": product_sk}, prefix={"PK": product_pk_prefix, f"{index}SK": ""}
        )
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": pk_attr},
            "ExpressionAttributeValues": ddb.to_values({":pk": pk_value}),
            "Limit": limit,
        }
        start = ddb.decode_cursor(cursor, scope)
        if start is not None:
            query["ExclusiveStartKey"] = start
        response = self._client.query(**query)
        records = [PRODUCT_ITEM.from_item(i) for i in response.get("Items", [])]
        return records, ddb.encode_cursor(response.get("LastEvaluatedKey"))

    def create(self, product: ProductRecord) -> None:
        operations: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": PRODUCT_ITEM.item(product),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        ]
        operations += [self._claim_sku(product, v) for v in product.variants]
        operations.append(self._category_put(product.category))
        self._transact(operations, product, first_sku_index=1)

    def replace(self, product: ProductRecord, expected_version: int, previous: ProductRecord) -> None:
        operations: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": PRODUCT_ITEM.item(product),
                    "ConditionExpression": "version = :expected AND archived = :false",
                    "ExpressionAttributeValues": ddb.to_values(
                        {":expected": expected_version, ":false": False}
                    ),
                }
            }
        ]
        previous_skus = set(previous.skus)
        for variant in product.variants:
            if variant.sku in previous_skus:
                operations.append(self._reprice_sku(product, variant))
            else:
                operations.append(self._claim_sku(product, variant))
        for removed in previous_skus - set(product.skus):
            operations.append(self._retire_sku(product.id, removed))
        if product.category != previous.category:
            operations.append(self._category_put(product.category))
        self._transact(operations, product, first_sku_index=1)

    def archive(self, product: ProductRecord, archived_at: str) -> None:
        pk, sk = keys.product(product.id)
        operations: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": ddb.key(pk, sk),
                    "UpdateExpression": "SET archived = :true, updated_at = :at, version = version + :one "
                    "REMOVE GSI1PK, GSI1SK, GSI2PK, GSI2SK",
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeValues": ddb.to_values(
                        {":true": True, ":at": archived_at, ":one": 1, ":expected": product.version}
                    ),
                }
            }
        ]
        operations += [self._retire_sku(product.id, s) for s in product.skus]
        self._transact(operations, product, first_sku_index=1)

    def available_units(self, skus: list[str]) -> dict[str, int]:
        result: dict[str, int] = {}
        request_keys = [ddb.key(*keys.sku(s)) for s in dict.fromkeys(skus)]
        for raw in ddb.batch_get(
            self._client, self._table, request_keys, projection="sku, on_hand, reserved"
        ):
            item = ddb.from_item(raw)
            result[item["sku"]] = max(int(item.get("on_hand", 0)) - int(item.get("reserved", 0)), 0)
        return result

    # -- transaction parts -------------------------------------------------------------------------

    def _claim_sku(self, product: ProductRecord, variant: VariantRecord) -> dict[str, Any]:
        sku = SkuRecord(**asdict(variant), product_id=product.id, product_name=product.name, active=True)
        return {
            "Put": {
                "TableName": self._table,
                "Item": SKU_ITEM.item(sku),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }

    def _reprice_sku(self, product: ProductRecord, variant: VariantRecord) -> dict[str, Any]:
        # Only catalog fields: the stock counters on the same item are left to the stock domain.
        pk, sk = keys.sku(variant.sku)
        return {
            "Update": {
                "TableName": self._table,
                "Key": ddb.key(pk, sk),
                "UpdateExpression": "SET #name = :name, price = :price, currency = :currency, "
                "product_name = :product_name, active = :true",
                "ConditionExpression": "product_id = :product_id",
                "ExpressionAttributeNames": {"#name": "name"},
                "ExpressionAttributeValues": ddb.to_values(
                    {
                        ":name": variant.name,
                        ":price": variant.price,
                        ":currency": variant.currency,
                        ":product_name": product.name,
                        ":true": True,
                        ":product_id": product.id,
                    }
                ),
            }
        }

    def _retire_sku(self, product_id: str, sku_code: str) -> dict[str, Any]:
        pk, sk = keys.sku(sku_code)
        return {
            "Update": {
                "TableName": self._table,
                "Key": ddb.key(pk, sk),
                "UpdateExpression": "SET active = :false",
                "ConditionExpression": "product_id = :product_id",
                "ExpressionAttributeValues": ddb.to_values({":false": False, ":product_id": product_id}),
            }
        }

    def _category_put(self, slug: str) -> dict[str, Any]:
        pk, sk = keys.category(slug)
        return {
            "Put": {
                "TableName": self._table,
                "Item": ddb.to_item({"PK": pk, "SK": sk, "entity": "category", "slug": slug}),
            }
        }

    def _transact(
        self, operations: list[dict[str, Any]], product: ProductRecord, first_sku_index: int
    ) -> None:
        cancelled = ddb.transact(self._client, operations)
        if cancelled is None:
            return
        if cancelled.refused(0):
            current = self.get(product.id)
            if current is None or current.archived:
                raise NotFound(f"No product {product.id}.")
            raise VersionConflict.stale(f"Product {product.id}", current.version)
        taken_at = [
            i - first_sku_index
            for i, code in enumerate(cancelled.codes)
            if code == "ConditionalCheckFailed"
            and first_sku_index <= i < first_sku_index + len(product.variants)
        ]
        taken = [product.variants[index].sku for index in taken_at]
        if taken:
            raise DuplicateSku(
                f"SKU {taken[0]} (variants[{taken_at[0]}].sku) already belongs to another product.",
                [
                    FieldError(f"variants[{index}].sku", f"{product.variants[index].sku} already exists")
                    for index in taken_at
                ],
                skus=taken,
            )
        raise cancelled.error

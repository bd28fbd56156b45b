"""Prints the budgeted figures (tests/infra/limits.py) of the real app and of a projection: today's
wiring plus the routes the open issues add (carts, shopper accounts, categories and search,
outgoing webhooks, gift cards and loyalty, return requests, reports), on new functions.

    .venv/bin/python scripts/stack_budget.py

The projection is a synth like the real one (stub handlers for functions not written yet); what is
not in the wiring (a shopper user pool, a media bucket, a CDN) is not in it: add ~10 resources.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CDK_DEFAULT_ACCOUNT", "111111111111")
os.environ["CDK_VALIDATION"] = "false"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.declaration import Declaration
from infra.layer_build import ensure_layers
from infra.stack import stack_name
from infra.wiring import FunctionSpec, Route, Subscription
from tests.infra.conftest import stub_functions_dir, synthesize
from tests.infra.limits import LIMITS, figures

# The open issues' routes (as their texts name them), on the functions they would most likely get.
NEW_FUNCTIONS = (
    FunctionSpec(name="carts", domain="checkout", description="Carts"),
    FunctionSpec(name="shoppers", domain="privacy", description="Shopper accounts"),
    FunctionSpec(name="integrations", domain="events", description="Outgoing webhooks"),
    FunctionSpec(name="promotions", domain="checkout", description="Promotions, gift cards, loyalty"),
    # The two subscriptions' consumers: the same code deployed for the queue trigger.
    FunctionSpec(
        name="integrations-deliveries",
        domain="events",
        description="Webhook deliveries",
        code="integrations",
        trigger="queue",
    ),
    FunctionSpec(
        name="promotions-loyalty",
        domain="checkout",
        description="Loyalty points",
        code="promotions",
        trigger="queue",
    ),
)
NEW_ROUTES = (
    Route("POST", "/carts", "carts"),
    Route("GET", "/carts/{cart_id}", "carts"),
    Route("PATCH", "/carts/{cart_id}", "carts"),
    Route("PUT", "/carts/{cart_id}/lines/{sku}", "carts"),
    Route("DELETE", "/carts/{cart_id}/lines/{sku}", "carts"),
    Route("POST", "/carts/{cart_id}/checkout", "carts"),
    Route("GET", "/me", "shoppers"),
    Route("PATCH", "/me", "shoppers"),
    Route("DELETE", "/me", "shoppers"),
    Route("POST", "/me/addresses", "shoppers"),
    Route("DELETE", "/me/addresses/{address_id}", "shoppers"),
    Route("GET", "/me/cart", "carts"),
    Route("POST", "/me/cart/merge", "carts"),
    Route("GET", "/me/orders", "orders"),
    Route("GET", "/me/orders/{order_id}", "orders"),
    Route("GET", "/me/loyalty", "promotions"),
    Route("GET", "/storefront/config", "catalog"),
    Route("GET", "/categories", "catalog"),
    Route("GET", "/categories/{slug}", "catalog"),
    Route("POST", "/admin/categories", "catalog", auth="admin"),
    Route("DELETE", "/admin/categories/{slug}", "catalog", auth="admin"),
    Route("GET", "/search", "catalog"),
    Route("GET", "/feeds/google.xml", "catalog"),
    Route("POST", "/admin/products/{product_id}/images", "catalog", auth="admin"),
    Route("GET", "/openapi.json", "catalog"),
    Route("GET", "/admin/webhooks", "integrations", auth="admin"),
    Route("POST", "/admin/webhooks", "integrations", auth="admin"),
    Route("DELETE", "/admin/webhooks/{webhook_id}", "integrations", auth="admin"),
    Route("GET", "/admin/webhooks/{webhook_id}/deliveries", "integrations", auth="admin"),
    Route(
        "POST", "/admin/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", "integrations", auth="admin"
    ),
    Route("POST", "/admin/webhooks/{webhook_id}/rotate-secret", "integrations", auth="admin"),
    Route("GET", "/admin/gift-cards", "promotions", auth="admin"),
    Route("POST", "/admin/gift-cards", "promotions", auth="admin"),
    Route("GET", "/admin/gift-cards/{card_id}", "promotions", auth="admin"),
    Route("POST", "/admin/gift-cards/{card_id}/disable", "promotions", auth="admin"),
    Route("GET", "/admin/promotions", "promotions", auth="admin"),
    Route("PATCH", "/admin/promotions/{code}", "promotions", auth="admin"),
    Route("POST", "/admin/customers/{email}/loyalty", "promotions", auth="admin"),
    Route("GET", "/admin/return-requests", "orders", auth="admin"),
    Route("POST", "/admin/return-requests/{request_id}/approve", "orders", auth="admin"),
    Route("POST", "/admin/return-requests/{request_id}/exchange", "orders", auth="admin"),
    Route("POST", "/orders/{order_id}/return-requests", "orders"),
    Route("POST", "/admin/orders/{order_id}/edits", "orders", auth="admin"),
    Route("POST", "/admin/marketing-spend", "reporting", auth="admin"),
)
NEW_SUBSCRIPTIONS = (
    Subscription(
        name="integrations-deliveries", function="integrations-deliveries", detail_types=("OrderConfirmed",)
    ),
    Subscription(name="promotions-loyalty", function="promotions-loyalty", detail_types=("OrderConfirmed",)),
)


def projected_declaration() -> Declaration:
    wiring = Declaration.from_wiring()
    known = {(route.method, route.path) for route in wiring.routes}
    return dataclasses.replace(
        wiring,
        functions=(*wiring.functions, *NEW_FUNCTIONS),
        routes=(*wiring.routes, *(r for r in NEW_ROUTES if (r.method, r.path) not in known)),
        subscriptions=(*wiring.subscriptions, *NEW_SUBSCRIPTIONS),
    )


def main() -> None:
    layers = ensure_layers()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        runs = {
            "today (prod)": (Declaration.from_wiring(), "prod"),
            "projected (prod)": (projected_declaration(), "prod"),
        }
        for label, (declaration, stage) in runs.items():
            run_dir = root / f"{stage}-{len(declaration.routes)}"
            functions_dir = stub_functions_dir(run_dir / "functions", declaration.functions)
            outdir = run_dir / "cdk.out"
            result = synthesize(
                outdir, {"stage": stage, "regions": "eu-west-1"}, layers, declaration, functions_dir
            )
            template = result.templates["eu-west-1"]
            print(f"{label}: {len(declaration.routes)} routes, {len(declaration.functions)} functions")
            for figure in figures(template, stack_name=stack_name(stage, "eu-west-1"), region="eu-west-1"):
                where = f" ({figure.where})" if figure.where else ""
                print(
                    f"  {figure.name:<20} {figure.value:>9,} / {figure.budget:>9,} / {figure.limit:>9,}"
                    f"  {LIMITS[figure.name][2]}{where}"
                )


if __name__ == "__main__":
    main()

"""Seeds the demo catalog through the public admin API (the same path a shop's tooling would use)."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

from infra.wiring import ROUTES

DEMO_CATALOG = Path(__file__).with_name("demo_catalog.json")


def _sku(name: str, size: str) -> str:
    def code(text: str) -> str:
        return "-".join(re.sub(r"[^A-Za-z0-9 ]", "", text).upper().split())

    return f"{code(name)}-{code(size)}"


def demo_products() -> list[dict[str, Any]]:
    data = json.loads(DEMO_CATALOG.read_text())
    products = []
    for category, spec in data["categories"].items():
        for index, (name, description, price) in enumerate(spec["products"]):
            variants = [
                # Larger sizes cost a little more; prices stay whole minor units.
                {"sku": _sku(name, size), "name": size, "price": price + 200 * step}
                for step, size in enumerate(spec["sizes"])
            ]
            products.append(
                {
                    "name": name,
                    "description": description,
                    "category": category,
                    "variants": variants,
                    # Varied demo stock, a few items low, one sold out.
                    "initial_stock": [0, 3, 12, 25, 40, 60][index % 6],
                }
            )
    return products


def _post(base_url: str, path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - loopback URL we built
        base_url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        result: dict[str, Any] = json.loads(response.read() or b"{}")
        return result


def seed(base_url: str, admin_token: str) -> int:
    stock_route = any(r.path == "/admin/stock/{sku}/movements" for r in ROUTES)
    products = demo_products()
    for product in products:
        initial_stock = product.pop("initial_stock")
        created = _post(base_url, "/admin/products", admin_token, product)
        if stock_route and initial_stock:
            for variant in created["variants"]:
                _post(
                    base_url,
                    f"/admin/stock/{variant['sku']}/movements",
                    admin_token,
                    {
                        "type": "receive",
                        "quantity": initial_stock,
                        "unit_cost": variant["price"] // 3,
                        "reason": "demo seed",
                    },
                )
    return len(products)

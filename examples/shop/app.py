"""The shop's routes: ``GET /products/{sku}`` and ``POST /orders``.

Nothing here mentions tracing: spans come from the aiohttp server/client and botocore
instrumentations that ``import ecs_otel.auto`` switched on, and log lines carry the trace ids
because ecs_otel's JSON formatter adds them. The one explicit piece is the business metric
``shop.orders``, which carries ``user.id`` on purpose: an unbounded attribute is what the sidecar's
cardinality control exists for, and the demo shows it folding the excess into one overflow series.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from aiohttp import web
from opentelemetry import metrics

from examples.shop.settings import ShopSettings
from examples.shop.store import Store

log = logging.getLogger("shop")

STORE = web.AppKey("store", Store)
HTTP = web.AppKey("http", aiohttp.ClientSession)
SETTINGS = web.AppKey("settings", ShopSettings)

_meter = metrics.get_meter("examples.shop")
_orders = _meter.create_counter("shop.orders", unit="{order}", description="Orders placed.")
_items = _meter.create_counter("shop.items", unit="{item}", description="Items ordered, by SKU.")


async def get_product(request: web.Request) -> web.Response:
    sku = request.match_info["sku"]
    product = await request.app[STORE].product(sku)
    if product is None:
        log.info("unknown product", extra={"sku": sku})
        raise web.HTTPNotFound(text='{"error": "unknown product"}', content_type="application/json")
    url = f"{request.app[SETTINGS].inventory_url}/stock/{sku}"
    async with request.app[HTTP].get(url) as resp:
        stock: dict[str, Any] = await resp.json() if resp.status == 200 else {"available": None}
    return web.json_response({**product, "available": stock.get("available")})


async def place_order(request: web.Request) -> web.Response:
    try:
        body = await request.json()
        sku, qty, user_id = str(body["sku"]), int(body.get("qty", 1)), str(body["user_id"])
        if qty < 1:
            raise ValueError("qty must be 1 or more")
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("rejected order", extra={"reason": str(exc)})
        raise web.HTTPBadRequest(text='{"error": "bad order"}', content_type="application/json") from None
    store = request.app[STORE]
    if await store.product(sku) is None:
        raise web.HTTPNotFound(text='{"error": "unknown product"}', content_type="application/json")
    order_id = await store.put_order(sku, qty, user_id)
    _orders.add(1, {"sku": sku, "user.id": user_id})
    _items.add(qty, {"sku": sku})
    log.info("order placed", extra={"order_id": order_id, "sku": sku, "qty": qty, "user_id": user_id})
    return web.json_response({"order_id": order_id}, status=201)


def create_app(settings: ShopSettings) -> web.Application:
    app = web.Application()
    app[SETTINGS] = settings
    app.router.add_get("/products/{sku}", get_product)
    app.router.add_post("/orders", place_order)

    async def resources(app: web.Application):  # type: ignore[no-untyped-def]
        app[STORE] = Store(settings.region, settings.products_table, settings.orders_table)
        app[HTTP] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        yield
        await app[HTTP].close()
        app[STORE].close()

    app.cleanup_ctx.append(resources)
    return app

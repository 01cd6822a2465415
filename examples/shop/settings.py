"""Where the shop listens and what it talks to, read from the environment once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ShopSettings:
    host: str = "127.0.0.1"
    #: 0 picks a free port; with ``port_file`` the bound port is written there once listening.
    port: int = 8080
    port_file: Path | None = None
    #: Base URL of the inventory service the shop calls over HTTP (the outgoing call).
    inventory_url: str = "http://127.0.0.1:8081"
    #: DynamoDB tables; the endpoint comes from botocore's own AWS_ENDPOINT_URL handling.
    products_table: str = "shop-products"
    orders_table: str = "shop-orders"
    region: str = "us-east-1"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ShopSettings:
        env = os.environ if env is None else env
        port_file = env.get("SHOP_PORT_FILE")
        return cls(
            host=env.get("SHOP_HOST", cls.host),
            port=int(env.get("SHOP_PORT", cls.port)),
            port_file=Path(port_file) if port_file else None,
            inventory_url=env.get("SHOP_INVENTORY_URL", cls.inventory_url).rstrip("/"),
            products_table=env.get("SHOP_PRODUCTS_TABLE", cls.products_table),
            orders_table=env.get("SHOP_ORDERS_TABLE", cls.orders_table),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or cls.region,
        )

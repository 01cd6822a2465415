"""The shop's DynamoDB tables through botocore (instrumented: each call is a CLIENT span, ``rpc.system=aws-api``).

botocore is synchronous, so calls run in a worker thread; ``asyncio.to_thread`` copies the
context, which keeps the botocore span a child of the request's span.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import botocore.session
from botocore.config import Config


class Store:
    def __init__(self, region: str, products_table: str, orders_table: str) -> None:
        # The endpoint (AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_DYNAMODB) and credentials come from botocore's
        # standard chain, exactly as in a task with a task role.
        self._client = botocore.session.get_session().create_client(
            "dynamodb", region_name=region,
            config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=2, read_timeout=5),
        )
        self.products_table = products_table
        self.orders_table = orders_table

    async def product(self, sku: str) -> dict[str, Any] | None:
        answer = await asyncio.to_thread(
            self._client.get_item, TableName=self.products_table, Key={"sku": {"S": sku}}
        )
        item = answer.get("Item")
        if not item:
            return None
        return {"sku": sku, "name": item["name"]["S"], "price": float(item["price"]["N"])}

    async def put_order(self, sku: str, qty: int, user_id: str) -> str:
        order_id = str(uuid.uuid4())
        await asyncio.to_thread(
            self._client.put_item,
            TableName=self.orders_table,
            Item={"order_id": {"S": order_id}, "sku": {"S": sku}, "qty": {"N": str(qty)}, "user_id": {"S": user_id}},
        )
        return order_id

    def close(self) -> None:
        self._client.close()

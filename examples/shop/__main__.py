"""``python -m examples.shop``: serve the shop, instrumented by one import.

Environment: SHOP_HOST, SHOP_PORT (0 = a free port), SHOP_PORT_FILE (written once listening),
SHOP_INVENTORY_URL, SHOP_PRODUCTS_TABLE, SHOP_ORDERS_TABLE, plus the usual OTEL_*, ECS_OTEL_* and AWS_*.
SIGTERM stops the server cleanly; ecs_otel flushes telemetry on the way out.
"""

import ecs_otel.auto  # noqa: F401, I001 - first, so everything imported below is instrumented

import asyncio
import logging
import os
import signal
import socket
import sys

from aiohttp import web

from examples.shop.app import create_app
from examples.shop.settings import ShopSettings

log = logging.getLogger("shop")


async def serve(settings: ShopSettings) -> None:
    runner = web.AppRunner(create_app(settings), access_log=None, handle_signals=False)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    sock.listen(128)
    sock.setblocking(False)
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    if settings.port_file is not None:
        tmp = settings.port_file.with_name(settings.port_file.name + ".tmp")
        tmp.write_text(str(port))
        os.replace(tmp, settings.port_file)
    log.info("shop listening", extra={"port": port})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shop stopping")
    await runner.cleanup()


def main() -> int:
    if not logging.getLogger().handlers:  # outside ECS ecs_otel leaves logging alone; still say something
        logging.basicConfig(level=logging.INFO)
    logging.getLogger().setLevel(logging.INFO)
    asyncio.run(serve(ShopSettings.from_env()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A bounded load: a few threads browsing products and placing orders until a deadline or a stop.

Bounded by time (``until``, or ``stop`` for the keep-running mode) and by rate (``rate_per_s`` over all
workers), so the demo is gentle on a laptop and on a busy CI box, and the amount of load scales with the
duration: ``DEMO_SECONDS=300`` drives the shop for the whole five minutes (about ``rate_per_s`` × seconds
requests; a fixed request count used to end a long demo after about 75 s). Orders carry a user id from a pool larger than the sidecar's cardinality limit for
``shop.orders``, which is the point: the summary shows the excess folded into one overflow series.
"""

from __future__ import annotations

import json
import math
import random
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

from examples.demo.stubs import PRODUCTS


@dataclass
class LoadResult:
    requests: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    #: Distinct ``(sku, user.id)`` attribute sets of ``shop.orders`` the app recorded (its series "before").
    order_series: set[tuple[str, str]] = field(default_factory=set)
    users: set[str] = field(default_factory=set)
    seconds: float = 0.0


@dataclass
class LoadPlan:
    base_url: str
    until: float  # time.monotonic() deadline (math.inf with ``stop`` for "until told")
    workers: int = 4
    rate_per_s: float = 40.0
    user_pool: int = 400
    order_share: float = 0.5
    unknown_share: float = 0.05
    seed: int = 7
    #: Set to end the load early (Ctrl-C in the keep-running mode); workers notice it within one pause.
    stop: threading.Event = field(default_factory=threading.Event)

    def max_requests(self, now: float) -> int:
        """The most requests the plan can make from ``now``: the rate bound, which grows with the duration."""
        if self.until == math.inf:
            return sys.maxsize
        pause = self.workers / self.rate_per_s
        return self.workers * (math.floor(max(0.0, self.until - now) / pause) + 1)


def _one(plan: LoadPlan, rng: random.Random, result: LoadResult, lock: threading.Lock) -> None:
    skus = list(PRODUCTS)
    if rng.random() < plan.order_share:
        sku, user = rng.choice(skus), f"user-{rng.randrange(plan.user_pool):04d}"
        data = json.dumps({"sku": sku, "qty": rng.randint(1, 3), "user_id": user}).encode()
        req = urllib.request.Request(plan.base_url + "/orders", data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        label = "POST /orders"
    else:
        sku = "sku-unknown" if rng.random() < plan.unknown_share else rng.choice(skus)
        user = ""
        req = urllib.request.Request(f"{plan.base_url}/products/{sku}")
        label = "GET /products/{sku}"
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        exc.read()
        status = exc.code
    except OSError:
        status = 0
    with lock:
        result.requests += 1
        result.by_status[f"{label} {status or 'error'}"] += 1
        if user and status == 201:
            result.order_series.add((sku, user))
            result.users.add(user)


def run_load(plan: LoadPlan) -> LoadResult:
    """Drive the shop until ``plan.until`` or ``plan.stop``; each worker makes at most one request per pause."""
    result = LoadResult()
    lock = threading.Lock()
    pause = plan.workers / plan.rate_per_s
    started = time.monotonic()

    def worker(n: int) -> None:
        rng = random.Random(plan.seed * 1000 + n)
        while time.monotonic() < plan.until and not plan.stop.is_set():
            t0 = time.monotonic()
            _one(plan, rng, result, lock)
            plan.stop.wait(max(0.0, min(pause - (time.monotonic() - t0), plan.until - time.monotonic())))

    threads = [threading.Thread(target=worker, args=(n,), name=f"load-{n}", daemon=True)
               for n in range(plan.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(None if plan.until == math.inf else max(0.0, plan.until - time.monotonic()) + 15)
    result.seconds = time.monotonic() - started
    return result

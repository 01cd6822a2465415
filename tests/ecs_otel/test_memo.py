"""Bounded memo tables: the one mechanism behind every cache of computed answers, on both halves.

A cache without a bound grows with its input (one new span name or resource per request is enough), and a
bound without a count hides a table that keeps emptying. The last test keeps hand-rolled caches from
coming back: an ``if len(x) >= …: x.clear()`` anywhere else in the source fails it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from ecs_otel.memo import Memo, evictions
from sidecar.pipeline.telemetry import CACHE_EVICTIONS, Registry, publish_cache_evictions
from tests.support.paths import REPO_ROOT


def test_a_full_table_empties_itself_and_counts_what_it_dropped() -> None:
    memo: Memo[int, str] = Memo("test.bounded", 3)
    before = evictions()["test.bounded"]
    for i in range(3):
        assert memo.put(i, str(i)) == str(i)
    memo.put(1, "one")  # a key already held replaces its value: nothing is dropped
    assert len(memo) == 3 and memo.evicted == 0
    memo.put(3, "3")  # full: emptied, then the new entry
    assert len(memo) == 1 and 3 in memo and 0 not in memo and memo.data == {3: "3"}
    assert memo.evicted == 3
    assert evictions()["test.bounded"] == before + 3
    memo.clear()  # forgetting on purpose is no eviction
    assert len(memo) == 0 and memo.evicted == 3


def test_counts_are_kept_per_table_name_across_tables() -> None:
    a: Memo[int, int] = Memo("test.shared_name", 1)
    b: Memo[int, int] = Memo("test.shared_name", 1)
    before = evictions()["test.shared_name"]
    for memo in (a, b):
        memo.put(1, 1)
        memo.put(2, 2)
    assert (a.evicted, b.evicted) == (1, 1)
    assert evictions()["test.shared_name"] == before + 2


def test_the_sidecar_publishes_every_table_in_one_counter() -> None:
    registry = Registry()
    publish_cache_evictions(registry)
    memo: Memo[int, int] = Memo("test.published", 2)
    for i in range(5):
        memo.put(i, i)
    text = registry.render()
    total = evictions()["test.published"]
    assert total >= 4
    assert f'{CACHE_EVICTIONS}{{cache="test.published"}} {total}' in text
    assert f"# TYPE {CACHE_EVICTIONS} counter" in text


def _hand_rolled_caches(path: Path) -> list[str]:
    """``if len(X) >= …:`` whose body calls ``X.clear()``: a cache emptied when full, outside the mechanism."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)):
            continue
        left = node.test.left
        if not (isinstance(left, ast.Call) and isinstance(left.func, ast.Name) and left.func.id == "len" and left.args):
            continue
        target = ast.unparse(left.args[0])
        for inner in ast.walk(ast.Module(body=node.body, type_ignores=[])):
            if (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) and inner.func.attr == "clear"
                    and ast.unparse(inner.func.value) == target):
                found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} empties {target} when full")
    return found


def test_no_cache_is_emptied_when_full_outside_the_memo_mechanism() -> None:
    found = []
    for package in ("ecs_otel", "sidecar"):
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            if path != REPO_ROOT / "ecs_otel" / "memo.py":
                found += _hand_rolled_caches(path)
    assert found == []

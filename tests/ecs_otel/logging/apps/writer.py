"""Many threads and asyncio tasks logging at once through ``configure_logging`` to stdout (a pipe).

``python -m tests.ecs_otel.logging.apps.writer THREADS TASKS PER_WRITER``; each record carries a payload large
enough to cross the pipe buffer and stdout's buffer boundaries, so split or interleaved writes would show.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading

from ecs_otel.logging import configure_logging

log = logging.getLogger("writer")


def payload(tag: str, i: int) -> str:
    return f"{tag}-{i}-" + ("é\n\"" * (50 + (i * 37) % 1500))


def thread_writer(n: int, count: int) -> None:
    for i in range(count):
        log.info("thread %d record %d", n, i, extra={"writer": f"t{n}", "seq": i, "payload": payload(f"t{n}", i)})


async def task_writer(n: int, count: int) -> None:
    for i in range(count):
        log.warning("task %d record %d", n, i, extra={"writer": f"a{n}", "seq": i, "payload": payload(f"a{n}", i)})
        if i % 7 == 0:
            await asyncio.sleep(0)


async def tasks(n_tasks: int, count: int) -> None:
    await asyncio.gather(*(task_writer(n, count) for n in range(n_tasks)))


def main() -> None:
    n_threads, n_tasks, count = (int(a) for a in sys.argv[1:4])
    configure_logging(fmt="json", service="writer", on_ecs=True)
    threads = [threading.Thread(target=thread_writer, args=(n, count)) for n in range(n_threads)]
    threads.append(threading.Thread(target=lambda: asyncio.run(tasks(n_tasks, count))))
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()

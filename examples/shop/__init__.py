"""A small instrumented shop: the example service of ``make demo`` and the compose/task-definition examples.

Run it with ``python -m examples.shop`` (``import ecs_otel.auto`` happens first, in ``__main__``).
"""

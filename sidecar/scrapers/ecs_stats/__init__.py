"""The ``ecs_stats`` scraper: the task's own stats from the ECS metadata endpoint, as OTLP metrics.

The stats model, the derivations (rates, vCPU, working set) and the OTLP writer are its
internals (``_internal/``).
"""

from sidecar.scrapers.ecs_stats.scraper import EcsStatsScraper

__all__ = ["EcsStatsScraper"]

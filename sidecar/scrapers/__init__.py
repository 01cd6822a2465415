"""Scrapers: batches produced on the sidecar's own schedule (``ecs_stats``), handed to the metrics chain."""

from sidecar.scrapers.base import Scraper

__all__ = ["Scraper"]

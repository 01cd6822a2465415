from sidecar.scrapers.base import Scraper

__all__ = ["Scraper"]

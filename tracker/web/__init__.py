"""The web side: HTML pages, the JSON API, the Atom feed, the Hub webhook, health, metrics."""

from tracker.web.app import create_app

__all__ = ["create_app"]

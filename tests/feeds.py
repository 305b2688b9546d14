"""Building small RSS documents for tests that walk a feed through versions."""

from __future__ import annotations

from xml.sax.saxutils import escape


def rss(
    *items: tuple[str, str], title: str = "Lab Blog", link: str = "https://lab.example/"
) -> str:
    """An RSS 2.0 document; each item is (guid, title), linked at /posts/<guid>."""
    body = "".join(
        f"<item><title>{escape(t)}</title><link>https://lab.example/posts/{g}</link>"
        f'<guid isPermaLink="false">{g}</guid>'
        f"<pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate>"
        f"<description>&lt;p&gt;About {escape(t)}&lt;/p&gt;</description></item>"
        for g, t in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{link}</link>{body}</channel></rss>"
    )

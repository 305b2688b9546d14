"""The keys of the JSON shapes (README, "JSON shapes") that the CLI and the HTTP API both
promise; an object may carry more keys, never fewer."""

import re

SOURCE_KEYS = {
    "id",
    "kind",
    "target",
    "name",
    "every_seconds",
    "enabled",
    "last_polled_at",
    "last_error",
    "consecutive_failures",
}
EVENT_KEYS = {
    "id",
    "kind",
    "severity",
    "source_id",
    "subject",
    "title",
    "url",
    "detected_at",
    "published_at",
    "before",
    "after",
    "data",
}
SUBSCRIPTION_KEYS = {
    "id",
    "name",
    "url",
    "kinds",
    "source_ids",
    "min_severity",
    "match",
    "digest",
    "last_delivery_status",
}
# Times are ISO 8601 with a UTC offset.
UTC_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")

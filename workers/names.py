"""Celery task names, queue names: one definition for the app, the tasks and the beat."""

DISPATCH_DUE = "tracker.dispatch_due"
POLL_SOURCE = "tracker.poll_source"
DELIVER = "tracker.deliver"
SWEEP = "tracker.sweep"
SEND_DIGESTS = "tracker.send_digests"

# Polls and alerts travel on separate queues, so a slow channel never holds up polling and
# deliveries can get workers of their own (`tracker worker -Q tracker.alerts`). A worker
# started without -Q consumes both.
POLL_QUEUE = "tracker"
ALERT_QUEUE = "tracker.alerts"

"""Distributed mode: Celery workers and beat on Redis, the same service functions as ever."""

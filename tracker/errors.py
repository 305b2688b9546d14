"""Errors that reach the user as one clear line."""


class UserError(Exception):
    """Bad usage or bad input: the CLI prints the message on one line and exits with 2."""


class NotFoundError(UserError):
    """Bad input naming something that does not exist (an id): 404 on the web."""


class FetchError(Exception):
    """A fetch that failed; the message is one line fit for `last_error`."""


class NotAFeedError(FetchError):
    """The body is not RSS, Atom, RDF or JSON Feed (an HTML page, an error page, garbage)."""


class DeferredError(FetchError):
    """The server asked us to come back later (429, or 503 with Retry-After): not a failure."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitedError(DeferredError):
    """The Hub answered 429: this source waits `retry_after` seconds, the poll goes on."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited by the Hub; next try in {round(retry_after)}s", retry_after)


class InterruptedPollError(Exception):
    """The poll was stopped (Ctrl-C, SIGTERM) before this source's outcome was recorded."""

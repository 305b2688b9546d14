"""Errors that reach the user as one clear line."""


class UserError(Exception):
    """Bad usage or bad input: the CLI prints the message on one line and exits with 2."""


class NotFoundError(UserError):
    """Bad input naming something that does not exist (an id): 404 on the web."""

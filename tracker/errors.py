"""Errors that reach the user as one clear line."""


class UserError(Exception):
    """Bad usage or bad input: the CLI prints the message on one line and exits with 2."""

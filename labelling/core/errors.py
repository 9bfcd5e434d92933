"""Errors the services raise. Each says what was received and what was expected; views map them to
HTTP status codes through `status`, management commands print the message."""


class StarlingError(Exception):
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(StarlingError):
    status = 400


class NotFound(StarlingError):
    status = 404


class Forbidden(StarlingError):
    """The account may not do this (its message says which role would)."""

    status = 403


class Conflict(StarlingError):
    status = 409


class ImportRefused(StarlingError):
    """One file of an import was refused; the others go on."""

    status = 400

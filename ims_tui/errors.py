"""Errors the domain raises.  Each maps to one CLI exit code and one line a person can act on."""

from __future__ import annotations


class ImsError(Exception):
    """Base: a failure with a one-line message meant for the user."""

    exit_code = 1


class RuleViolation(ImsError):
    """Refused by a business rule: not enough stock, over-receipt, duplicate serial ..."""

    exit_code = 1


class BadInput(ImsError):
    """Bad usage or input: unknown product or location, malformed number, unreadable file."""

    exit_code = 2


class NotFound(BadInput):
    """A named thing (product, location, order, user) does not exist."""


class AuthError(ImsError):
    """Authentication failed, account locked or disabled."""

    exit_code = 3


class PermissionDenied(AuthError):
    """The signed-in user's role does not allow the operation."""


class StoreError(ImsError):
    """The store cannot be used: unreachable, or its schema is older or newer than this program."""

    exit_code = 4

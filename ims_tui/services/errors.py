"""The domain's errors, as services and their callers have always named them.

They live in :mod:`ims_tui.errors` so the db layer (which imports nothing above it) raises the
same ones.
"""

from __future__ import annotations

from ims_tui.errors import AuthError, BadInput, ImsError, NotFound, PermissionDenied, RuleViolation, StoreError

__all__ = ["AuthError", "BadInput", "ImsError", "NotFound", "PermissionDenied", "RuleViolation", "StoreError"]

"""Settings in three scopes: site (once per process), station (resolved at sign-in), session.

- **Site**: the store URL and the security policy (failed sign-ins before a lockout, how long it
  lasts).  Loaded once per process by whoever starts it (the app, the CLI) with
  :func:`use_site`; every service reads the policy from :func:`site` - a manager's PIN at the
  receiving desk counts against the same lockout as a sign-in.  Its source today is the station
  file's ``[security]`` table.
- **Station**: :class:`StationProfile` (name, default location, scanners, label printer, key
  remaps, scan timing) - built from the station file and the store's ``stations`` row when
  someone signs in (``services.stations.resolve_station``).
- **Session**: the signed-in user and what they last chose (the last printer): attributes of
  the app instance, never of a class, so one process could serve many sessions.

No Textual and no database here: every layer may import this module.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SecurityPolicy:
    """Failed sign-ins (password, badge + PIN, unlock, a manager's approval PIN) before a lockout."""

    max_failed_logins: int = 5
    lockout_minutes: float = 15.0


@dataclass(frozen=True)
class SiteSettings:
    database_url: str = ""
    security: SecurityPolicy = field(default_factory=SecurityPolicy)


@dataclass(frozen=True)
class ScanTiming:
    """How the keyboard-wedge detector tells a scan from typing on this station."""

    max_gap_ms: float = 35.0
    """The longest pause between two keys of one scan."""
    min_length: int = 4
    """The fewest characters a scan has."""


@dataclass(frozen=True)
class StationProfile:
    """Who this station is, resolved when someone signs in."""

    name: str
    default_location: str | None = None
    label_printer: str | None = None
    scan_timing: ScanTiming = field(default_factory=ScanTiming)
    keys: dict[str, str] = field(default_factory=dict)
    scanners: tuple = ()
    known_to_store: bool = False
    """True when the store has a ``stations`` row for this name."""


_site: SiteSettings | None = None
_lock = threading.Lock()


def use_site(settings: SiteSettings) -> SiteSettings:
    """Set this process's site settings (the app or the CLI does it once at start)."""
    global _site
    with _lock:
        _site = settings
    return settings


def site() -> SiteSettings:
    """This process's site settings (defaults until :func:`use_site` is called)."""
    global _site
    with _lock:
        if _site is None:
            _site = SiteSettings()
        return _site


__all__ = ["ScanTiming", "SecurityPolicy", "SiteSettings", "StationProfile", "site", "use_site"]

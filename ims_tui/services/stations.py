"""Stations in the store: who this station is, resolved when someone signs in.

The station file gives a profile (:class:`~ims_tui.settings.StationProfile`); the store's
``stations`` row by the same name adds what is managed centrally (the default location) and
records when the station was last seen.  The first sign-in on a new station creates its row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ims_tui.db.engine import Store
from ims_tui.db.models import Location, Station
from ims_tui.services.catalogue import find_location
from ims_tui.settings import StationProfile


def resolve_station(store: Store, profile: StationProfile) -> StationProfile:
    """``profile`` with the store's view of the station; creates or touches its ``stations`` row.

    The store's default location wins over the file's (a manager moves a desk without visiting
    it); a file's location the store does not know is dropped rather than trusted.
    """
    def work(session: Session) -> StationProfile:
        row = session.scalars(select(Station).where(Station.name == profile.name)).one_or_none()
        if row is None:
            location = find_location(session, profile.default_location) if profile.default_location else None
            row = Station(name=profile.name, default_location_id=location.id if location and location.holds_stock else None)
            session.add(row)
        row.last_seen_at = dt.datetime.now(dt.timezone.utc)
        session.flush()
        code = session.scalar(select(Location.code).where(Location.id == row.default_location_id)) if row.default_location_id else None
        return dataclasses.replace(profile, default_location=code, known_to_store=True)

    return store.transact(work)


__all__ = ["resolve_station"]

"""Who is acting: the signed-in user (or the local CLI operator) and the station they are at."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    username: str
    role: str
    station: str
    user_id: int | None = None

    @classmethod
    def local_operator(cls, os_user: str, station: str) -> Actor:
        """The CLI without ``--user``: administrator rights, recorded as ``cli:<os user>``."""
        return cls(username=f"cli:{os_user}", role="admin", station=station)

    @classmethod
    def system(cls, station: str = "system") -> Actor:
        """The program itself (demo loading, migrations)."""
        return cls(username="system", role="admin", station=station)

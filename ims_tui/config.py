"""Station configuration: where the store is, who this station is, its scanners and keys.

Read from a TOML file (``IMS_CONFIG`` or ``<user config dir>/ims-tui/station.toml``) with
environment variables on top.  A missing file means defaults; a malformed one raises
:class:`ConfigError` with a one-line reason.

Example::

    [store]
    url = "postgresql+psycopg://ims@db.example/ims"

    [station]
    name = "receiving-1"
    default_location = "WH1-RCV"
    idle_lock_minutes = 5
    theme = "high-contrast"
    scan_max_gap_ms = 35                # keys closer than this, ended by Enter/LF/Tab, are a scan
    scan_min_length = 4
    kiosk = true                        # no key leaves the app (as 'ims --kiosk')
    label_printer = "10.0.0.50:9100"   # a ZPL printer on raw TCP

    [security]
    max_failed_logins = 5
    lockout_minutes = 15

    [[scanners]]
    source = "serial:/dev/ttyACM0?baud=9600&eol=cr"

    [[scanners]]
    source = "evdev:/dev/input/by-id/usb-Honeywell-event-kbd"
    layout = "us"

    [keys]
    "lookup" = "f2"

    [layouts.de]        # extra key-code -> character tables for evdev scanners
    KEY_Z = ["y", "Y"]
"""

from __future__ import annotations

import os
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from ims_tui.settings import ScanTiming, SecurityPolicy, SiteSettings, StationProfile

APP_NAME = "ims-tui"


class ConfigError(Exception):
    """The station configuration cannot be used; the message says why in one line."""


@dataclass(frozen=True)
class ScannerConfig:
    source: str
    layout: str = "us"
    prefix: str = ""
    suffix: str = ""


@dataclass(frozen=True)
class Config:
    database_url: str
    station: str
    default_location: str | None = None
    idle_lock_minutes: float = 5.0
    theme: str | None = None
    kiosk: bool = False
    label_printer: str | None = None
    max_failed_logins: int = 5
    lockout_minutes: float = 15.0
    scanners: tuple[ScannerConfig, ...] = ()
    keys: dict[str, str] = field(default_factory=dict)
    layouts: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    config_path: Path | None = None
    scan_max_gap_ms: float = 35.0
    scan_min_length: int = 4

    @property
    def site(self) -> SiteSettings:
        """The site scope of this file: the store and the security policy."""
        return SiteSettings(self.database_url, SecurityPolicy(self.max_failed_logins, self.lockout_minutes))

    @property
    def scan_timing(self) -> ScanTiming:
        return ScanTiming(self.scan_max_gap_ms, self.scan_min_length)

    @property
    def station_profile(self) -> StationProfile:
        """The station as this file describes it (the store completes it at sign-in)."""
        return StationProfile(self.station, self.default_location, self.label_printer, self.scan_timing,
                              dict(self.keys), self.scanners)


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def secure_data_dir() -> None:
    """The default store's folder is its owner's alone (0700) and its files 0600: the store holds
    password hashes and the key that hides unknown user names.  Tightens a folder made before."""
    folder = data_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in (folder, *folder.glob("ims.db*")):
        mode = path.stat().st_mode & 0o777
        private = 0o700 if path.is_dir() else 0o600
        if mode & ~private:
            path.chmod(mode & private)


def default_database_url() -> str:
    return f"sqlite:///{data_dir() / 'ims.db'}"


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "station.toml"


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None


def _number(section: dict, key: str, default: float, path: Path) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"{path}: {key} must be a non-negative number, not {value!r}")
    return value


def _flag(section: dict, key: str, path: Path) -> bool:
    value = section.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{path}: {key} must be true or false, not {value!r}")
    return value


def load_config(
    *,
    database_url: str | None = None,
    station: str | None = None,
    path: Path | None = None,
) -> Config:
    """Build the configuration: explicit arguments win over environment, then file, then defaults."""
    env_path = os.environ.get("IMS_CONFIG")
    config_path = path or (Path(env_path) if env_path else default_config_path())
    raw = _read_toml(config_path)
    store = raw.get("store", {})
    station_section = raw.get("station", {})
    security = raw.get("security", {})
    scanners = []
    for entry in raw.get("scanners", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("source"), str):
            raise ConfigError(f"{config_path}: every [[scanners]] entry needs a source string")
        scanners.append(
            ScannerConfig(
                source=entry["source"],
                layout=str(entry.get("layout", "us")),
                prefix=str(entry.get("prefix", "")),
                suffix=str(entry.get("suffix", "")),
            )
        )
    keys = raw.get("keys", {})
    station_name = station or os.environ.get("IMS_STATION") or station_section.get("name") or socket.gethostname()
    if not isinstance(station_name, str) or len(station_name) > 120 or not station_name.isprintable():
        raise ConfigError(f"a station name is plain text of at most 120 characters, not {str(station_name)[:40]!r}")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in keys.items()):
        raise ConfigError(f"{config_path}: [keys] maps binding ids to key names, both strings")
    return Config(
        database_url=database_url
        or os.environ.get("IMS_DATABASE_URL")
        or store.get("url")
        or default_database_url(),
        station=station_name,
        default_location=station_section.get("default_location"),
        idle_lock_minutes=_number(station_section, "idle_lock_minutes", 5.0, config_path),
        theme=station_section.get("theme"),
        kiosk=_flag(station_section, "kiosk", config_path),
        label_printer=station_section.get("label_printer"),
        max_failed_logins=int(_number(security, "max_failed_logins", 5, config_path)),
        lockout_minutes=_number(security, "lockout_minutes", 15.0, config_path),
        scan_max_gap_ms=_number(station_section, "scan_max_gap_ms", 35.0, config_path),
        scan_min_length=int(_number(station_section, "scan_min_length", 4, config_path)),
        scanners=tuple(scanners),
        keys=dict(keys),
        layouts=raw.get("layouts", {}),
        config_path=config_path,
    )

"""Issue 16 items 2, 8, 9, 12 and the store parts of 11 and 13, through the CLI.

Who may reset a store; the default store's file modes; the security policy living in the store;
one ``error:`` line for a refused import; the permission checked before any secret is read; and
stores that are missing, not ours or newer than this program.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from ims_tui.db.engine import Store
from ims_tui.services import users
from ims_tui.services.actor import Actor
from tests.conftest import make_locations, make_product, open_store
from tests.conftest import run_cli as ims

PASSWORD = "correct horse battery"
ADMIN = Actor("setup", "admin", "test")


def _with_users(url: str) -> None:
    store = open_store(url)
    for name, role in (("ada", "admin"), ("pat", "picker")):
        users.add_user(store, ADMIN, name, role, PASSWORD)
    make_product(store, "WIDGET")
    make_locations(store, "BIN-1")
    store.dispose()


def _products(url: str) -> int:
    store = Store(url)
    try:
        with store.read() as session:
            return session.execute(text("SELECT count(*) FROM products")).scalar_one()
    finally:
        store.dispose()


# --- item 2 ----------------------------------------------------------------------------------


def test_only_an_administrator_who_names_the_store_may_reset_it(capsys, monkeypatch, store_url):
    _with_users(store_url)
    assert ims(capsys, store_url, "stock", "receive", "WIDGET", "3", "--to", "BIN-1")[0] == 0
    name = Path(store_url.removeprefix("sqlite:///")).name if store_url.startswith("sqlite") else store_url.rsplit("/", 1)[1]
    monkeypatch.setenv("IMS_PASSWORD", PASSWORD)
    code, _, err = ims(capsys, store_url, "--user", "pat", "demo", "--reset", "--confirm", name, "--force")
    assert code == 3 and err == "error: permission denied: role picker may not manage users\n"
    monkeypatch.setenv("IMS_PASSWORD", "wrong password!")
    code, _, err = ims(capsys, store_url, "--user", "nobody", "demo", "--reset", "--confirm", name, "--force")
    assert code == 3 and err.count("\n") == 1
    code, _, _ = ims(capsys, store_url, "--user", "ada", "db", "upgrade")
    assert code == 3
    monkeypatch.setenv("IMS_PASSWORD", PASSWORD)
    code, _, err = ims(capsys, store_url, "--user", "ada", "demo", "--reset")
    assert code == 2 and err == f"error: type the store's name to confirm the reset: --confirm {name}\n"
    code, _, err = ims(capsys, store_url, "--user", "ada", "demo", "--reset", "--confirm", name)
    assert code == 1 and err == "error: the store holds 1 stock postings: add --force to wipe them with everything else\n"
    code, _, err = ims(capsys, store_url, "demo", "--reset", "--password", "pw", "--confirm", name, "--force")
    assert code == 2 and "use --password-stdin" in err
    assert _products(store_url) == 1, "nothing was dropped by any refusal"
    monkeypatch.setattr(sys, "stdin", io.StringIO("new demo password\n"))
    code, out, err = ims(capsys, store_url, "--user", "ada", "demo", "--reset", "--confirm", name, "--force", "--password-stdin")
    assert code == 0 and "users (password: new demo password)" in out, err
    assert _products(store_url) > 1


def test_demo_reset_on_a_newer_schema_is_exit_4(capsys, sqlite_url):
    _with_users(sqlite_url)
    store = Store(sqlite_url)
    with store.write() as session:
        session.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    store.dispose()
    code, _, err = ims(capsys, sqlite_url, "demo", "--reset", "--confirm", "store.db", "--force")
    assert code == 4 and err == "error: store schema ffff is newer than this program knows; upgrade ims-tui\n"
    code, out, _ = ims(capsys, sqlite_url, "info")
    assert code == 0 and "schema:  ffff (newer than this program: upgrade ims-tui)" in out
    assert _products(sqlite_url) == 1


# --- item 8 ----------------------------------------------------------------------------------


def test_the_default_store_is_private_to_its_owner(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env.pop("IMS_DATABASE_URL", None)
    run = [sys.executable, "-m", "ims_tui"]
    assert subprocess.run([*run, "db", "upgrade"], env=env, capture_output=True, timeout=120).returncode == 0
    folder = tmp_path / "data" / "ims-tui"
    store = folder / "ims.db"
    # keep a connection open so the -wal and -shm files exist while we look
    holder = subprocess.Popen([sys.executable, "-c", f"import sqlite3, sys; c = sqlite3.connect({str(store)!r}); "
                               "c.execute('PRAGMA journal_mode=WAL'); c.execute('BEGIN IMMEDIATE'); "
                               "c.execute('INSERT INTO store_meta VALUES (\"x\", \"y\")'); "
                               "print('ready', flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        for path in (store, folder / "ims.db-wal", folder / "ims.db-shm"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_an_existing_loose_default_store_is_tightened(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env.pop("IMS_DATABASE_URL", None)
    folder = tmp_path / "data" / "ims-tui"
    folder.mkdir(parents=True, mode=0o755)
    folder.chmod(0o755)
    (folder / "ims.db").touch(mode=0o644)
    (folder / "ims.db").chmod(0o644)
    subprocess.run([sys.executable, "-m", "ims_tui", "info"], env=env, capture_output=True, timeout=120, check=True)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "ims.db").stat().st_mode) == 0o600


# --- item 9 ----------------------------------------------------------------------------------


def test_the_lockout_policy_lives_in_the_store_and_a_station_cannot_weaken_it(capsys, monkeypatch, store_url, tmp_path):
    _with_users(store_url)
    weak = tmp_path / "station.toml"
    weak.write_text("[security]\nmax_failed_logins = 1000000\nlockout_minutes = 0\n")
    monkeypatch.setenv("IMS_CONFIG", str(weak))
    monkeypatch.setenv("IMS_PASSWORD", PASSWORD)
    code, _, err = ims(capsys, store_url, "--user", "pat", "settings", "security", "--max-failed-logins", "1000")
    assert code == 3 and "may not manage settings" in err
    code, out, _ = ims(capsys, store_url, "--user", "ada", "settings", "security", "--max-failed-logins", "3")
    assert code == 0 and "accounts lock after 3 failed sign-ins, for 15 minutes" in out
    code, _, err = ims(capsys, store_url, "settings", "security", "--max-failed-logins", "0")
    assert code == 2 and err == "error: max-failed-logins must be from 1 to 100, not 0\n"
    monkeypatch.setenv("IMS_PASSWORD", "wrong password!")
    codes = [ims(capsys, store_url, "--user", "pat", "product", "show", "WIDGET")[0] for _ in range(4)]
    monkeypatch.setenv("IMS_PASSWORD", PASSWORD)
    code, _, err = ims(capsys, store_url, "--user", "pat", "product", "show", "WIDGET")
    assert codes == [3, 3, 3, 3] and code == 3 and "locked" in err, "the store's 3, not the station's 1000000"
    code, out, _ = ims(capsys, store_url, "--json", "settings", "show")
    assert '"max_failed_logins": 3' in out
    code, out, _ = ims(capsys, store_url, "--json", "--user", "ada", "export", "audit")
    assert "settings.security" in out and "max_failed_logins: 5 -> 3" in out


def test_a_station_may_make_the_policy_stricter(capsys, monkeypatch, sqlite_url, tmp_path):
    _with_users(sqlite_url)
    strict = tmp_path / "station.toml"
    strict.write_text("[security]\nmax_failed_logins = 2\n")
    monkeypatch.setenv("IMS_CONFIG", str(strict))
    monkeypatch.setenv("IMS_PASSWORD", "wrong password!")
    assert ims(capsys, sqlite_url, "--user", "pat", "product", "show", "WIDGET")[0] == 3
    code, _, err = ims(capsys, sqlite_url, "--user", "pat", "product", "show", "WIDGET")
    assert code == 3 and "locked" in err


# --- item 12 ---------------------------------------------------------------------------------


def test_a_refused_import_keeps_its_report_and_adds_an_error_line(capsys, sqlite_url, tmp_path):
    open_store(sqlite_url).dispose()
    bad = tmp_path / "bad.csv"
    bad.write_text("sku,name,unit_price\nA-1,Bolt,cheap\nA-2,Nut,1\nA-3,Gear,dear\n", encoding="utf-8")
    code, out, err = ims(capsys, sqlite_url, "import", "products", str(bad))
    assert code == 2
    assert "row 2, column unit_price, value 'cheap': not a money amount" in out
    assert err == "error: 2 rows refused; nothing was written\n"


def test_permission_is_checked_before_any_secret_is_read(capsys, monkeypatch, sqlite_url):
    _with_users(sqlite_url)
    monkeypatch.setenv("IMS_PASSWORD", PASSWORD)
    stdin = io.StringIO("a new password for eve\n")
    monkeypatch.setattr(sys, "stdin", stdin)
    code, _, err = ims(capsys, sqlite_url, "--user", "pat", "user", "add", "eve", "--role", "admin", "--password-stdin")
    assert code == 3 and err == "error: permission denied: role picker may not manage users\n"
    assert stdin.tell() == 0, "the new password was never read"
    code, _, _ = ims(capsys, sqlite_url, "--user", "pat", "user", "passwd", "ada", "--password-stdin")
    assert code == 3 and stdin.tell() == 0


# --- items 11 and 13: stores that are missing, not ours, or given with secrets ---------------------


def test_a_read_only_command_on_a_mistyped_path_creates_nothing(capsys, tmp_path):
    missing = tmp_path / "typo.db"
    code, _, err = ims(capsys, f"sqlite:///{missing}", "stock", "show", "WIDGET")
    assert code == 4
    assert err == f"error: no store at {missing}: check --db, or create one there with 'ims db upgrade'\n"
    assert not missing.exists()
    code, out, _ = ims(capsys, f"sqlite:///{missing}", "info")
    assert code == 0 and "no store at this path" in out and not missing.exists()


def test_a_file_that_is_not_a_store_is_exit_4(capsys, tmp_path):
    csv = tmp_path / "file.csv"
    csv.write_text("sku,name\n" + "A,B\n" * 200)
    code, _, err = ims(capsys, f"sqlite:///{csv}", "stock", "show", "X")
    assert code == 4 and err == f"error: sqlite:///{csv} is not an ims store (not a SQLite database)\n"
    code, _, err = ims(capsys, f"sqlite:///{csv}", "db", "upgrade")
    assert code == 4 and "not an ims store" in err
    other = tmp_path / "other.db"
    import sqlite3

    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    code, _, err = ims(capsys, f"sqlite:///{other}", "stock", "show", "X")
    assert code == 4 and err == f"error: sqlite:///{other} is not an ims store: it holds other tables\n"
    assert ims(capsys, f"sqlite:///{other}", "db", "upgrade")[0] == 4


def test_a_password_in_the_url_query_is_hidden(capsys):
    url = "postgresql+psycopg://ims@127.0.0.1:1/nowhere?password=hunter2secret"
    code, _, err = ims(capsys, url, "stock", "show", "X")
    assert code == 4 and "hunter2secret" not in err
    assert "password=***" in err
    code, out, _ = ims(capsys, url, "info")
    assert "hunter2secret" not in out


@pytest.mark.slow
def test_a_million_column_csv_is_refused_in_bounded_memory(sqlite_url, tmp_path):
    open_store(sqlite_url).dispose()
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"c{n}" for n in range(1_000_000)) + "\n" + "x," * 999_999 + "x\n", encoding="utf-8")
    probe = (  # the peak the import adds over the process with every command module loaded
        "import resource, sys; from ims_tui.cli.main import build_parser, main; build_parser(); "
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
        f"code = main(['--db', {sqlite_url!r}, 'import', 'products', {str(wide)!r}, '--dry-run']); "
        "print(code, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300,
                            cwd=Path(__file__).parent.parent)
    code, peak_mb = result.stdout.split()[-2:]
    assert code == "2"
    assert "1000000 cells in one row; a file has at most 1000 columns" in result.stdout
    assert result.stderr == "error: the file was refused; nothing was written (dry run)\n"
    assert int(peak_mb) < 200, f"the import added {peak_mb} MB at its peak (the whole process took 633 MB before)"

"""Issue 16 item 1 (and the file parts of 11 and 12): a file the user names is written safely.

Exports, an import's ``--errors`` file and label files replace only a regular file or a new path;
a device node, a FIFO another process reads and a symlink are written straight through and stay
what they were.  The special files are made here, in a temporary folder (never the real /dev).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ims_tui.cli.main import main
from tests.conftest import make_locations, make_product, open_store

NULL, FULL = os.makedev(1, 3), os.makedev(1, 7)
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")


@pytest.fixture
def url(sqlite_url):
    store = open_store(sqlite_url)
    make_locations(store, "BIN-1")
    make_product(store, "A-1", name="Anvil")
    store.dispose()
    return sqlite_url


def _device(path: Path, number: int) -> Path:
    os.mknod(path, stat.S_IFCHR | 0o666, number)
    return path


def _is_char_device(path: Path, number: int) -> bool:
    info = os.lstat(path)
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == number


@needs_root
def test_export_to_a_null_device_writes_through_and_leaves_the_device(url, tmp_path, capsys):
    null = _device(tmp_path / "null", NULL)
    assert main(["--db", url, "export", "products", "-o", str(null)]) == 0
    assert _is_char_device(null, NULL)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ims-")]
    assert main(["--db", url, "export", "products", "-o", str(null), "--format", "xlsx"]) == 0
    assert _is_char_device(null, NULL)


@needs_root
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_to_a_full_device_fails_with_exit_2(url, tmp_path, capsys, fmt):
    full = _device(tmp_path / "full", FULL)
    assert main(["--db", url, "export", "products", "-o", str(full), "--format", fmt]) == 2
    err = capsys.readouterr().err
    assert err == f"error: cannot write {full}: No space left on device\n"
    assert _is_char_device(full, FULL)


def test_export_into_a_fifo_read_by_another_process(url, tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen([sys.executable, "-c", f"import sys; sys.stdout.write(open({str(fifo)!r}).read())"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert main(["--db", url, "export", "products", "-o", str(fifo)]) == 0
        received, _ = reader.communicate(timeout=30)
    finally:
        reader.kill()
    assert received.lstrip("\ufeff").splitlines()[1].startswith("A-1,Anvil")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_export_through_a_symlink_keeps_the_link(url, tmp_path, capsys):
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert main(["--db", url, "export", "products", "-o", str(link)]) == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert "A-1,Anvil" in real.read_text(encoding="utf-8-sig")


def test_a_regular_file_is_replaced_whole_and_keeps_its_mode(url, tmp_path, capsys):
    target = tmp_path / "p.csv"
    target.write_text("old\n")
    target.chmod(0o640)
    assert main(["--db", url, "export", "products", "-o", str(target)]) == 0
    assert "A-1,Anvil" in target.read_text(encoding="utf-8-sig")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


@needs_root
def test_import_errors_file_and_label_file_onto_a_device(url, tmp_path, capsys):
    null = _device(tmp_path / "null", NULL)
    full = _device(tmp_path / "full", FULL)
    bad = tmp_path / "bad.csv"
    bad.write_text("sku,name,unit_price\nA-2,Bolt,cheap\n", encoding="utf-8")
    assert main(["--db", url, "import", "products", str(bad), "--errors", str(null)]) == 2
    assert _is_char_device(null, NULL)
    assert main(["--db", url, "import", "products", str(bad), "--errors", str(full)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert _is_char_device(full, FULL)
    assert main(["--db", url, "label", "product", "A-1", "-o", str(null), "--format", "zpl"]) == 0
    assert _is_char_device(null, NULL)
    assert main(["--db", url, "label", "product", "A-1", "-o", str(full), "--format", "zpl"]) == 2
    assert _is_char_device(full, FULL)


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs made and removed here (needs root and mount)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_to_a_full_disk_is_exit_2_and_leaves_nothing(tmp_path, capsys, small_disk, fmt):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    open_store(url).dispose()
    rows = "".join(f"P-{n:04d},{os.urandom(60).hex()}\n" for n in range(600))  # incompressible
    (tmp_path / "many.csv").write_text("sku,name\n" + rows, encoding="utf-8")
    assert main(["--db", url, "import", "products", str(tmp_path / "many.csv")]) == 0
    capsys.readouterr()
    target = small_disk / f"p.{fmt}"
    assert main(["--db", url, "export", "products", "-o", str(target)]) == 2
    assert capsys.readouterr().err == f"error: cannot write {target}: No space left on device\n"
    assert list(small_disk.iterdir()) == []


def test_export_into_a_closed_pipe_ends_quietly(url, tmp_path, capsys):
    rows = "".join(f"P-{n:05d},Product {n} with a long enough name to fill the pipe\n" for n in range(3000))
    (tmp_path / "many.csv").write_text("sku,name\n" + rows, encoding="utf-8")
    assert main(["--db", url, "import", "products", str(tmp_path / "many.csv")]) == 0
    producer = subprocess.Popen([sys.executable, "-m", "ims_tui", "--db", url, "export", "products"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=Path(__file__).parent.parent)
    assert producer.stdout.read(1)  # like `| head -c 1`: read a little, then close the pipe
    producer.stdout.close()
    assert producer.wait(timeout=60) == 0
    assert producer.stderr.read() == b""

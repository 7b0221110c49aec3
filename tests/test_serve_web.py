"""`ims serve web` in headless Chromium (Debian's, driven by playwright) and with a plain websocket
client: the app's own sign-in is the first thing served, a foreign Origin and a session over the
cap are refused, and each tab is a process of its own."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path

import aiohttp
import pytest

from tests.app_helpers import stock_the_store
from tests.auth_support import add_user, use_cheap_hasher
from tests.conftest import open_store
from tests.serve_support import Server, wait_for

CHROMIUM = shutil.which("chromium")
ANSI = re.compile(r"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "screenshots" / "serve-web.png"


@pytest.fixture
def web(sqlite_url, tmp_path, monkeypatch):
    use_cheap_hasher(monkeypatch)
    store = open_store(sqlite_url)
    stock_the_store(store)
    add_user(store, "mona", "manager", password="manager-pass-1")
    store.dispose()
    server = Server(tmp_path, sqlite_url, "web", "--max-sessions", "1")
    yield server
    server.stop()


async def _connect(port: int, origin: str | None):
    session = aiohttp.ClientSession()
    headers = {"Origin": origin} if origin else {}
    try:
        ws = await session.ws_connect(f"http://127.0.0.1:{port}/ws?width=80&height=24", headers=headers)
    except BaseException:
        await session.close()
        raise
    return session, ws


async def _read_until(ws, needle: str, timeout: float = 20.0) -> str:
    seen = ""

    async def read() -> str:
        nonlocal seen
        async for message in ws:
            if message.type == aiohttp.WSMsgType.BINARY:
                seen += message.data.decode("utf-8", "replace")
            elif message.type == aiohttp.WSMsgType.TEXT:
                seen += message.data
            if needle in seen:
                return seen
        raise AssertionError(f"closed before {needle!r}")

    return await asyncio.wait_for(read(), timeout)


async def test_a_foreign_or_missing_origin_and_a_session_over_the_cap_are_refused(web):
    origin = f"http://127.0.0.1:{web.port}"
    for bad in ("http://evil.example", f"http://localhost:{web.port}", None):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await _connect(web.port, bad)
        assert refused.value.status == 403
    session, ws = await _connect(web.port, origin)
    try:
        await ws.send_json(["resize", {"width": 80, "height": 24}])
        await _read_until(ws, "Sign in")  # nothing but the sign-in screen runs before a sign-in
        wait_for(lambda: len(web.children()) == 1, 10, "the tab's own process")
        with pytest.raises(aiohttp.WSServerHandshakeError) as full:
            await _connect(web.port, origin)
        assert full.value.status == 503
    finally:
        await ws.close()
        await session.close()
    wait_for(lambda: not web.children(), 10, "the tab's process to end with its websocket")
    session, ws = await _connect(web.port, origin)  # the slot is free again
    await ws.close()
    await session.close()


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/system-packages)")
async def test_chromium_signs_in_and_sees_home(web, tmp_path):
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 700})
            screen = []
            page.on("websocket", lambda ws: ws.on(
                "framereceived", lambda payload: screen.append(payload if isinstance(payload, str) else payload.decode("utf-8", "replace"))))
            await page.goto(f"http://127.0.0.1:{web.port}/", wait_until="domcontentloaded")
            await _until(lambda: "Sign in" in "".join(screen), "the sign-in screen in the browser")
            await page.wait_for_timeout(300)
            await page.mouse.click(550, 350)  # the terminal takes the keyboard
            # typed as a person types: a fast burst ending in Tab would be taken for a badge scan
            mark = len(screen)
            await page.keyboard.type("mona", delay=150)
            await _until(lambda: "mona" in _plain("".join(screen[mark:])), "the typed name on the screen")
            await page.wait_for_timeout(400)
            await page.keyboard.press("Tab")
            await page.wait_for_timeout(400)
            await page.keyboard.type("manager-pass-1", delay=150)
            await page.wait_for_timeout(400)
            await page.keyboard.press("Enter")
            await _until(lambda: "Signed in as mona (manager)" in _plain("".join(screen)), "Home after signing in")
            await page.wait_for_timeout(500)
            shot = await page.screenshot(path=str(tmp_path / "serve-web.png"))
            assert shot.startswith(b"\x89PNG") and len(shot) > 10_000
            if os.environ.get("IMS_UPDATE_SCREENSHOTS"):  # the README's picture
                SCREENSHOT.write_bytes(shot)

            # a page of another origin (localhost is not 127.0.0.1) cannot open a session
            other = await browser.new_page()
            refused = []
            other.on("websocket", lambda ws: ws.on("close", lambda *_: refused.append(True)))
            await other.goto(f"http://localhost:{web.port}/", wait_until="domcontentloaded")
            await _until(lambda: refused, "the foreign page's websocket to be refused")
            assert len(web.children()) == 1
        finally:
            await browser.close()


def _plain(terminal_output: str) -> str:
    """The text of a terminal stream without its escape sequences (styles split the words)."""
    return ANSI.sub("", terminal_output)


async def _until(condition, what: str, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)

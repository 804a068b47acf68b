"""Browser tests of ``waypoint ui``: Debian's chromium (installed here when missing) driven by
Playwright for Python, against the real ``waypoint ui`` command serving real databases."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "docs" / "img"


def _install_chromium() -> str | None:
    """Install Debian's chromium with apt as root; the reason it cannot be, else None."""
    if os.path.exists(CHROMIUM):
        return None
    if shutil.which("apt-get") is None:
        return "no apt-get on this machine to install Debian's chromium"
    if os.geteuid() != 0:
        return "installing chromium with apt-get needs root"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        if proc.returncode != 0:
            return f"{' '.join(cmd)} failed: {proc.stderr.strip()[-300:]}"
    return None if os.path.exists(CHROMIUM) else "apt-get installed chromium but /usr/bin/chromium is missing"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless chromium for the session (Debian's package, never a Playwright download)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    reason = _install_chromium()
    if reason is not None:
        pytest.skip(f"browser tests need Debian's chromium: {reason}")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


class Server:
    """A running ``waypoint ui`` subprocess and its URL."""

    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url
        self.base, _, self.token = url.partition("/?token=")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_server(db_url: str, *args: str) -> Server:
    """``waypoint --url DB ui ARGS`` on a free port; waits for the URL it prints."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]), "PYTHONUNBUFFERED": "1"}
    env.pop("WAYPOINT_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "waypoint.cli", "--url", db_url, "ui", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.match(r"waypoint ui: (http://127\.0\.0\.1:\d+/\?token=\S+)$", line.strip())
    if match is None:
        proc.kill()
        raise AssertionError(f"waypoint ui printed {line!r}; stderr: {proc.stderr.read() if proc.stderr else ''}")
    return Server(proc, match.group(1))


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    p = context.new_page()
    yield p
    context.close()


def follow(page: Any, target: Any) -> None:
    """Click a link or submit button (a selector or a locator) and wait for the page it loads."""
    with page.expect_navigation():
        if isinstance(target, str):
            page.click(target)
        else:
            target.click()


def screenshot(page: Any, name: str) -> None:
    """Save the page as docs/img/ui-NAME.png when WAYPOINT_UI_SCREENSHOTS=1 (docs/ui.md shows them)."""
    if os.environ.get("WAYPOINT_UI_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"ui-{name}.png"), full_page=False)

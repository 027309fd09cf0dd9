"""The course in JupyterLab, in a real browser: headless Chromium driven by Playwright.

A `jupyter lab` server (127.0.0.1, a free port, a token) serves copies of the notebooks;
the browser opens each, runs all cells from the Run menu, waits for the kernel to go idle
and then checks what a learner would see: no cell shows an error, every training run shows
ONE progress bar (the tqdm widget, rendered) and ONE figure that was updated in place
(not a new figure per epoch), and the saved notebook agrees. Screenshots go to build/e2e/.

Every wait is bounded, and the server and the browser are shut down (then killed) whatever
happens.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from e2e_helpers import NOTEBOOKS, errors_in, read_notebook, stopwatch

# 00_setup always; a training notebook in quick mode when it is there
IN_LAB = [n for n in ("00_setup", "04_softmax_regression") if (NOTEBOOKS / f"{n}.ipynb").exists()]
RUN_TIMEOUT_S = 300  # per notebook, quick mode on 2 cores
IMAGE = '.jp-OutputArea-output[data-mime-type^="image/"]'
PROGRESS = ".jp-OutputArea-output .widget-hprogress"
SETTINGS = {  # JupyterLab user settings for the test server only
    # keep every cell in the page (no virtual scrolling), so all outputs can be counted
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # no news or update pop-ups over the notebook
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 (our own server)
        return r.status


def _stop(proc: subprocess.Popen, base: str, token: str) -> None:
    """Ask the server to shut down (kernels too); then SIGTERM, then SIGKILL, all bounded."""
    if proc.poll() is None:
        try:
            req = urllib.request.Request(f"{base}/api/shutdown", method="POST",
                                         headers={"Authorization": f"token {token}"})
            urllib.request.urlopen(req, timeout=5)  # noqa: S310
        except OSError:
            pass
    for sig, wait in ((None, 15), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        if sig is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)  # the server and its kernels: one process group
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def lab(scratch, build_dir):
    """A JupyterLab server on copies of the notebooks; yields (base_url, token, folder)."""
    root = scratch / "lab"
    folder = root / "notebooks"  # copies: the browser saves into them, never into the repo
    folder.mkdir(parents=True)
    for name in IN_LAB:
        shutil.copyfile(NOTEBOOKS / f"{name}.ipynb", folder / f"{name}.ipynb")
    for rel, value in SETTINGS.items():
        path = root / "settings" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    port, token = _free_port(), secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, D2L_QUICK="1", OMP_NUM_THREADS="1",
               JUPYTERLAB_SETTINGS_DIR=str(root / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"),
               JUPYTER_CONFIG_DIR=str(root / "config"), JUPYTER_RUNTIME_DIR=str(root / "runtime"),
               IPYTHONDIR=str(root / "ipython"))
    for var in ("D2L_REPORT", "D2L_DATA_DIR", "D2L_DEVICE"):
        env.pop(var, None)
    log = open(build_dir / "jupyterlab-server.log", "w")  # noqa: SIM115 (closed below)
    command = [Path(sys.executable).parent / "jupyter", "lab", "--no-browser", "--allow-root",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={folder}"]
    with stopwatch("jupyterlab: server start"):
        proc = subprocess.Popen([str(c) for c in command], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"jupyter lab exited with {proc.returncode}; see "
                                f"{build_dir / 'jupyterlab-server.log'}")
                try:
                    if _get(f"{base}/api/status?token={token}") == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail("jupyter lab did not answer within 90 s")
                time.sleep(0.5)
        except BaseException:
            _stop(proc, base, token)
            log.close()
            raise
    try:
        yield base, token, folder
    finally:
        with stopwatch("jupyterlab: server shutdown"):
            _stop(proc, base, token)
        log.close()
        assert proc.poll() is not None, "the JupyterLab server is still running"


@pytest.fixture(scope="module")
def browser(lab):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is missing: run `make e2e` (it installs .[e2e] and Chromium)")
    executable = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not Path(executable).exists():
        pytest.fail(f"no Chromium at {executable}: run `make e2e` or set CHROMIUM")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True,
                              args=["--disable-dev-shm-usage", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


def _cells_state(panel) -> tuple[list[str], str | None]:
    prompts = [p.strip() for p in panel.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()]
    status = panel.locator(".jp-Notebook-ExecutionIndicator").get_attribute("data-status")
    return prompts, status


@pytest.mark.parametrize("name", IN_LAB)
def test_run_all_cells_in_jupyterlab(name, lab, browser, build_dir):
    base, token, folder = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    try:
        with stopwatch(f"jupyterlab: open {name}"):
            # a workspace of its own, reset: only this notebook open, and it is the current one
            page.goto(f"{base}/lab/workspaces/e2e-{name}/tree/{name}.ipynb?reset&token={token}")
            panel = page.locator(".jp-NotebookPanel:visible")
            panel.locator(".jp-CodeCell").first.wait_for()
            expect_kernel = panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
            expect_kernel.wait_for()
            assert page.locator(".jp-NotebookPanel").count() == 1
            panel.locator(".jp-CodeCell").first.click()  # focus: the menus act on this notebook
        with stopwatch(f"jupyterlab: run all cells of {name} (quick mode)"):
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while True:  # every code cell numbered ([3]: not [*]: or [ ]:) and the kernel idle
                prompts, status = _cells_state(panel)
                if prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts) \
                        and status == "idle":
                    break
                if time.monotonic() > deadline:
                    page.screenshot(path=str(build_dir / f"jupyterlab-{name}-timeout.png"))
                    pytest.fail(f"{name} did not finish in {RUN_TIMEOUT_S} s: {status} {prompts}")
                page.wait_for_timeout(500)
        page.wait_for_timeout(1000)  # let the last widget and image messages render

        # what the learner sees
        cells = panel.locator(".jp-CodeCell")
        tracebacks = panel.locator(".jp-OutputArea-output", has_text="Traceback (most recent")
        assert tracebacks.count() == 0, tracebacks.first.inner_text()[:3000]
        broken = panel.locator(".jp-OutputArea-output", has_text="Error displaying widget")
        assert broken.count() == 0, broken.first.inner_text()
        training = []
        for i in range(cells.count()):
            cell = cells.nth(i)
            bars, images = cell.locator(PROGRESS).count(), cell.locator(IMAGE).count()
            if bars:
                training.append(i)
                assert images == bars, (
                    f"{name} cell {i}: {bars} training run(s) but {images} figure(s); the live "
                    "plot must be one figure per run, updated in place")
                label = cell.locator(".jp-OutputArea-output .widget-html-content").first
                assert re.search(r"(fit|train_lm):\s*100%", label.inner_text()), label.inner_text()
            source = cell.locator(".jp-InputArea-editor").inner_text()
            if "LivePlot(" in source:
                assert images == 1, f"{name} cell {i}: a LivePlot showed {images} figures"
        assert training, f"{name}: no cell showed a progress bar"
        first = cells.nth(training[0])
        first.scroll_into_view_if_needed()
        page.screenshot(path=str(build_dir / f"jupyterlab-{name}.png"))
        first.screenshot(path=str(build_dir / f"jupyterlab-{name}-training-cell.png"))

        # what is saved: the same, as nbformat sees it
        page.keyboard.press("Control+s")
        page.wait_for_selector(".jp-mod-current.jp-mod-dirty", state="detached")
        saved = read_notebook(folder / f"{name}.ipynb")
        assert errors_in(saved) == []
        code = [c for c in saved.cells if c.cell_type == "code"]
        for i in training:
            data = [o.get("data", {}) for o in code[i].outputs]
            figures = sum(any(k.startswith("image/") for k in d) for d in data)
            bars = sum("application/vnd.jupyter.widget-view+json" in d for d in data)
            assert figures == bars, f"saved {name} cell {i}: {figures} figures, {bars} bars"
    finally:
        page.close()

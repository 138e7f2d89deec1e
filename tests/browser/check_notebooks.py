"""Run the notebooks in JupyterLab in a real browser: headless Chromium driven by Playwright.

`make test-browser` runs it (pytest never collects it: the name does not start with `test_`). It starts
JupyterLab on a free loopback port with a random token, serving copies of the notebooks from a temporary
folder (so nothing is ever saved over `notebooks/*.ipynb`; `nbhelpers.paths` still finds data/ and
outputs/ from the package). Then, for each notebook, in the order given:

1. open it, select its last cell and click Run > Run All Above Selected Cell: every cell but the last,
   which shuts the kernel down;
2. wait until every one of those cells has an execution count, printing progress every 10 s;
3. check that no cell shows a traceback, that every cell calling a plot function shows an image, and
   that the scorer widget (`scorer_widget(...)`) shows a new reward after a typed response and Score;
4. save a screenshot to outputs/browser_<notebook>.png;
5. run the last cell and check that the kernel went away (JupyterLab then says it died and restarts it).

The server is shut down at the end, also on failure. Exit code 1 names the notebook and cell that failed.

Usage: python tests/browser/check_notebooks.py [--chromium PATH] [--timeout SECONDS] NOTEBOOK...
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from nbhelpers.paths import OUTPUTS_DIR

PLOT_CALL = re.compile(r"\bplot_\w+\(|\.savefig\(")
WIDGET_CALL = "scorer_widget("
SHUTDOWN_CALL = "shutdown_kernel()"
TYPED_RESPONSE = "The answer is 32."   # differs from the widget's initial response, so its reward changes
PROGRESS_EVERY = 10                    # seconds between progress lines
# no Google services, updates or sync: this machine's network is closed and they only slow the start
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# JupyterLab's own settings for this run: no "get notified about Jupyter news?" toast over the screenshots
LAB_SETTINGS = {"@jupyterlab/apputils-extension/notification.jupyterlab-settings":
                {"fetchNews": "false", "checkForUpdates": False}}


class NotebookFailure(Exception):
    """A check failed; the message names the cell."""


def log(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyter_lab(root: Path, server_log: Path, timeout: float = 120):
    """Serve `root` with JupyterLab on a free loopback port; yield (base URL, token); always shut it down."""
    port, token = free_port(), secrets.token_hex(16)
    for name, values in LAB_SETTINGS.items():
        path = root / ".lab" / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
               f"--ServerApp.root_dir={root / 'notebooks'}", "--ServerApp.allow_root=True",
               f"--LabApp.user_settings_dir={root / '.lab' / 'settings'}",
               f"--LabApp.workspaces_dir={root / '.lab' / 'workspaces'}"]
    base = f"http://127.0.0.1:{port}"
    with open(server_log, "w") as out:
        # the token goes through the environment, not the command line that `ps` shows to every user
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                  env=dict(os.environ, JUPYTER_TOKEN=token))
    try:
        log(f"JupyterLab starting on {base} (log: {server_log})")
        deadline = time.time() + timeout
        while not api_ok(f"{base}/api/status", token):
            if server.poll() is not None or time.time() > deadline:
                raise NotebookFailure(f"JupyterLab did not start (exit code {server.poll()}); see {server_log}")
            time.sleep(0.5)
        yield base, token
    finally:
        api_ok(f"{base}/api/shutdown", token, method="POST")   # also shuts every kernel down
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log("JupyterLab shut down")


def api_ok(url: str, token: str, method: str = "GET") -> bool:
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status == 200
    except OSError:
        return False


def cell_name(index: int, source: str) -> str:
    first = source.strip().splitlines()[0] if source.strip() else ""
    return f"cell {index} ({first[:45]!r})"


def prompts(page) -> list[str]:
    """The execution prompt of every cell, in order: '[3]:' done, '[*]:' queued or running, '[ ]:' not run,
    '' for markdown cells."""
    return page.eval_on_selector_all(
        ".jp-Notebook .jp-Cell",
        "cells => cells.map(c => c.classList.contains('jp-CodeCell')"
        " ? c.querySelector('.jp-InputArea-prompt').textContent.trim() : '')")


def select_cell(page, index: int, tries: int = 5) -> None:
    """Make cell `index` the active cell by clicking its prompt (retried: a notebook still laying out
    its outputs can move the cell under the pointer)."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    for _ in range(tries):
        cell.locator(".jp-InputPrompt").click()
        if "jp-mod-active" in (cell.get_attribute("class") or ""):
            return
        time.sleep(1)
    raise NotebookFailure(f"could not select cell {index}")


def menu(page, title: str, item: str) -> None:
    """Click a main-menu item, e.g. Run > Run All Cells."""
    page.click(f".lm-MenuBar-itemLabel:text-is('{title}')")
    page.click(f".lm-Menu-item:not(.lm-mod-disabled) .lm-Menu-itemLabel:text-is('{item}')")


def wait_for_cells(page, name: str, sources: dict[int, str], timeout: float, start_timeout: float = 60) -> None:
    """Wait until every cell in `sources` has an execution count; fail if execution stopped or timed out."""
    start = last_report = time.time()
    started = False
    while True:
        states = prompts(page)
        done = [i for i in sources if re.fullmatch(r"\[\d+\]:", states[i])]
        running = [i for i in sources if states[i] == "[*]:"]
        started = started or bool(done or running)
        elapsed = time.time() - start
        if len(done) == len(sources):
            log(f"  {name}: all {len(sources)} code cells ran ({elapsed:.0f} s)")
            return
        if not started and elapsed > start_timeout:
            raise NotebookFailure(f"no cell started running within {start_timeout:.0f} s")
        if started and not running:   # nothing queued any more: execution stopped, after an error
            check_errors(page, sources)
            first = min(set(sources) - set(done))
            raise NotebookFailure(f"{cell_name(first, sources[first])} did not run")
        if elapsed > timeout:
            first = running[0] if running else min(set(sources) - set(done))
            raise NotebookFailure(f"timed out after {timeout:.0f} s at {cell_name(first, sources[first])}")
        if time.time() - last_report >= PROGRESS_EVERY:
            now = (f", running {cell_name(running[0], sources[running[0]])}: {last_output_line(page, running[0])}"
                   if running else "")
            log(f"  {name}: {len(done)}/{len(sources)} code cells done{now} ({elapsed:.0f} s)")
            last_report = time.time()
        time.sleep(1)


def last_output_line(page, index: int) -> str:
    """The last line a cell has printed so far (e.g. its progress bar)."""
    texts = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea-output").all_inner_texts()
    lines = [line.strip() for text in texts for line in text.splitlines() if line.strip()]
    return lines[-1][:70] if lines else ""


def check_errors(page, sources: dict[int, str]) -> None:
    """Fail on the first cell whose output shows a traceback."""
    cells = page.locator(".jp-Notebook .jp-Cell")
    for i, source in sources.items():
        texts = cells.nth(i).locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        for text in texts.all_inner_texts():
            if "Traceback" in text:
                last = text.strip().splitlines()[-1]
                raise NotebookFailure(f"{cell_name(i, source)} raised {last}")


def check_images(page, name: str, sources: dict[int, str]) -> list[int]:
    """Every cell that calls a plot function shows a loaded image; return those cells."""
    cells = page.locator(".jp-Notebook .jp-Cell")
    plotted = [i for i, source in sources.items() if PLOT_CALL.search(source)]
    for i in plotted:
        images = cells.nth(i).locator(".jp-OutputArea-output[data-mime-type='image/png'] img")
        if not any(images.nth(k).evaluate("img => img.naturalWidth > 0") for k in range(images.count())):
            raise NotebookFailure(f"{cell_name(i, sources[i])} shows no plot image")
    log(f"  {name}: plot images in {len(plotted)} cells")
    return plotted


def check_widget(page, name: str, index: int, source: str, timeout: float = 60) -> None:
    """Type a new response into the scorer widget of cell `index`, click Score, expect a new reward (and the
    tokens the reward model reads under it)."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    reward = cell.locator(".widget-html-content", has_text="reward:").first
    try:
        reward.wait_for(timeout=30_000)
        cell.locator(".widget-html-content", has_text="hover a token").first.wait_for(timeout=30_000)
        before = reward.inner_text()
        response = cell.locator(".widget-textarea:has(label:text-is('response')) textarea")
        response.fill("")
        response.press_sequentially(TYPED_RESPONSE)
        cell.locator("button.widget-button:has-text('Score')").click()
        page.wait_for_function("([el, before]) => el.innerText !== before && el.innerText.includes('reward:')",
                               arg=[reward.element_handle(), before], timeout=timeout * 1000)
    except PlaywrightError as err:
        raise NotebookFailure(f"{cell_name(index, source)}: the scorer widget did not react "
                              f"({str(err).splitlines()[0]})") from None
    log(f"  {name}: scorer widget: {before!r} -> typed {TYPED_RESPONSE!r} -> {reward.inner_text()!r}")


def check_shutdown(page, name: str, index: int, source: str, timeout: float = 60) -> None:
    """Run the last cell (shutdown_kernel) and expect JupyterLab's "kernel appears to have died" dialog."""
    select_cell(page, index)
    menu(page, "Run", "Run Selected Cell and Do not Advance")
    dialog = page.locator(".jp-Dialog:has-text('appears to have died')")
    try:
        dialog.wait_for(timeout=timeout * 1000)
    except PlaywrightError:
        raise NotebookFailure(f"{cell_name(index, source)}: the kernel did not shut down") from None
    check_errors(page, {index: source})
    dialog.locator("button:has-text('Ok')").click()
    log(f"  {name}: the last cell shut the kernel down")


def check_notebook(page, base: str, token: str, notebook: Path, timeout: float) -> None:
    """Open, run and check one notebook (see the module docstring); screenshot to outputs/."""
    name = notebook.name
    cells = json.loads(notebook.read_text())["cells"]
    code = {i: "".join(c["source"]) for i, c in enumerate(cells) if c["cell_type"] == "code"}
    last = max(code)
    to_run = {i: s for i, s in code.items() if not (i == last and SHUTDOWN_CALL in s)}
    log(f"== {name}: {len(code)} code cells ({time.strftime('%H:%M:%S')})")
    page.goto(f"{base}/doc/tree/{name}?reset&token={token}")
    page.locator(".jp-Notebook .jp-Cell").nth(len(cells) - 1).wait_for(timeout=120_000)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=120_000)
    select_cell(page, last)
    menu(page, "Run", "Run All Above Selected Cell" if last not in to_run else "Run All Cells")
    wait_for_cells(page, name, to_run, timeout)
    check_errors(page, to_run)
    shown = check_images(page, name, to_run)
    widgets = [i for i, s in to_run.items() if WIDGET_CALL in s]
    for i in widgets:
        check_widget(page, name, i, to_run[i])
    focus = (widgets or shown or [last])[-1]
    page.locator(".jp-Notebook .jp-Cell").nth(focus).evaluate("cell => cell.scrollIntoView({block: 'start'})")
    page.screenshot(path=OUTPUTS_DIR / f"browser_{notebook.stem}.png")
    if last not in to_run:
        check_shutdown(page, name, last, code[last])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"),
                        help="the Chromium (or Chrome) executable")
    parser.add_argument("--timeout", type=float, default=2400, help="seconds per notebook")
    args = parser.parse_args()
    if not args.chromium:
        sys.exit("no Chromium found: install it (Debian: apt-get install chromium) or pass --chromium PATH")
    OUTPUTS_DIR.mkdir(exist_ok=True)
    start = time.time()
    with tempfile.TemporaryDirectory(prefix="browser-notebooks-") as tmp:
        root = Path(tmp)
        (root / "notebooks").mkdir()
        for notebook in args.notebooks:
            shutil.copy(notebook, root / "notebooks" / notebook.name)
        try:
            with jupyter_lab(root, OUTPUTS_DIR / "browser_jupyter.log") as (base, token), \
                    sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
                for notebook in args.notebooks:
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    try:
                        check_notebook(page, base, token, root / "notebooks" / notebook.name, args.timeout)
                    except (NotebookFailure, PlaywrightError) as err:
                        page.screenshot(path=OUTPUTS_DIR / f"browser_{notebook.stem}.png")
                        raise NotebookFailure(f"{notebook.name}: {str(err).splitlines()[0]}") from None
                    page.close()
                browser.close()
        except NotebookFailure as failure:
            log(f"FAILED: {failure}")
            return 1
    log(f"all {len(args.notebooks)} notebooks passed in the browser ({time.time() - start:.0f} s); "
        f"screenshots: {OUTPUTS_DIR}/browser_*.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())

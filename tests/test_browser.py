"""The notebooks' widget explorers work for a user: JupyterLab in headless Chromium, all cells run, sliders moved.

Headless papermill runs pass ``interactive=False`` and draw an explorer once, so only a real browser shows that moving
a slider redraws the plot. The test starts JupyterLab itself (localhost, a free port, no token) on a temporary copy of
notebooks/, so nothing is written into the repository, and its Jupyter and IPython folders are temporary too. The
browser is Debian's /usr/bin/chromium driven by the ``playwright`` package (the ``browser`` extra); Playwright's own
browser download (``playwright install``) is never used. The harness (start the lab, open a notebook, run all cells,
find a slider by its description, move it, read the output image) is kept in helpers for the other explorers.
"""
from __future__ import annotations

import base64
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from shared_data import require_shared

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (the browser extra): "
                               "pip install -e '.[browser]'")

REPO = Path(__file__).resolve().parents[1]
# On a closed network Chromium's background services flood it with connections that are refused; these flags stop
# them, and a fresh --user-data-dir (the persistent context's folder) keeps every run alike.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# The kernel of the notebook open in the lab (``window.jupyterapp`` is exposed by --LabApp.expose_app_in_browser).
KERNEL = "window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout_s: float, what: str, interval_s: float = 0.25):
    """Poll ``condition()`` until it returns something truthy (returned), or fail saying what did not happen."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval_s)
    raise AssertionError(f"{what} within {timeout_s:g} s")


def start_lab(root: Path, scratch: Path) -> tuple[subprocess.Popen, str]:
    """JupyterLab serving ``root`` on a free localhost port without a token; returns the process and its base URL.

    Kernels import this checkout (PYTHONPATH). Jupyter's and IPython's folders live in ``scratch``, so the run reads
    no user settings and writes nothing into the home folder; news and update checks, which would go to the network,
    and the language-server search, which runs npm (and npm writes a log into ~/.npm), are off.
    """
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    env.update({name: str(scratch / name.lower()) for name in
                ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR")})
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--IdentityProvider.token=",
               "--ServerApp.password=", f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True",
               "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly",
               "--LanguageServerManager.autodetect=False"]  # its search for language servers runs npm
    log = open(scratch / "lab.log", "w")
    process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            log_tail = (scratch / "lab.log").read_text()[-3000:]
            raise AssertionError(f"JupyterLab exited with status {process.returncode}:\n{log_tail}")
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_until(ready, 90, "JupyterLab did not answer")
    except BaseException:
        stop_process_group(process)
        raise
    return process, url


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (the server shuts its kernels down), then SIGKILL if it lingers."""
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def open_notebook(page, base_url: str, name: str, timeout_s: float = 90) -> None:
    """Open ``name`` alone in the lab and wait until it is the current tab and its kernel is connected and idle.

    ``?reset`` empties the lab's saved workspace, which would otherwise reopen the notebooks of earlier tests beside
    this one and could leave one of them current.
    """
    page.goto(f"{base_url}/lab/tree/{name}?reset")
    page.wait_for_function(f"""() => window.jupyterapp?.shell.currentWidget?.context?.path === {name!r}
                           && {KERNEL}?.connectionStatus === 'connected' && {KERNEL}?.status === 'idle'""",
                           timeout=timeout_s * 1000)


def run_all_cells(page, timeout_s: float = 180) -> None:
    """Run every cell as Run > Run All Cells does; fail with the notebook's errors if any cell raised."""
    finished = page.evaluate("""async (timeoutMs) => {
        const run = window.jupyterapp.commands.execute('notebook:run-all-cells');
        const late = new Promise(resolve => setTimeout(() => resolve('timeout'), timeoutMs));
        return String(await Promise.race([run, late]));
    }""", timeout_s * 1000)
    errors = page.evaluate("""() => {
        const cells = window.jupyterapp.shell.currentWidget.content.model.cells, errors = [];
        for (let i = 0; i < cells.length; i++) {
            const outputs = cells.get(i).outputs;
            for (let j = 0; outputs && j < outputs.length; j++) {
                const output = outputs.get(j).toJSON();
                if (output.output_type === 'error') errors.push(`cell ${i}: ${output.ename}: ${output.evalue}`);
            }
        }
        return errors;
    }""")
    assert errors == [], f"cells raised: {errors}"
    assert finished == "true", f"Run All Cells did not finish cleanly within {timeout_s:g} s ({finished})"


def labelled_widget(page, kind: str, description: str):
    """The ipywidgets ``kind`` (``slider``, ``dropdown``) whose label reads ``description``, once exactly one is
    drawn (widgets render after their cell has finished)."""
    found = page.locator(f".widget-{kind}").filter(has=page.locator(".widget-label", has_text=description))
    wait_until(lambda: found.count() == 1, 30, f"exactly one {kind} labelled {description!r} did not appear")
    return found


def move_slider(page, description: str, value: float) -> None:
    """Type ``value`` into the slider's readout and press Enter, as a user does for an exact value."""
    readout = labelled_widget(page, "slider", description).locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(f"{value:g}")
    page.keyboard.press("Enter")


def image_src(container) -> str:
    return container.locator("img").first.get_attribute("src", timeout=30_000) or ""


def redrawn_image(container, before: str, timeout_s: float = 60) -> str:
    """The container's output image once its ``src`` differs from ``before`` (the plot was drawn again)."""
    return wait_until(lambda: (src := image_src(container)) != before and src, timeout_s,
                      "the output image did not change")


def png_pixels(src: str) -> np.ndarray:
    """The RGB pixels of a ``data:image/png;base64,...`` image source."""
    from PIL import Image

    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), f"not an inline PNG: {src[:40]!r}"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src[len(prefix):]))).convert("RGB"))


def right_halves(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The right halves of two renderings of one figure, cut to a common size from the top right corner.

    The inline backend crops figures to their content, so a longer title or tick label changes the image's width;
    the right-hand panel stays against the right edge.
    """
    height, half = min(first.shape[0], second.shape[0]), min(first.shape[1], second.shape[1]) // 2
    return first[:height, -half:], second[:height, -half:]


@dataclass(frozen=True)
class Lab:
    url: str
    root: Path  # the lab's temporary copy of notebooks/


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    """A JupyterLab on a temporary copy of notebooks/ (figures and runs the notebooks save land beside it, in the
    same temporary folder); stopped however the tests end."""
    scratch = tmp_path_factory.mktemp("lab")
    root = scratch / "notebooks"
    shutil.copytree(REPO / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    process, url = start_lab(root, scratch)
    yield Lab(url, root)
    stop_process_group(process)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Debian Chromium with a fresh profile folder, closed however the tests end.

    Its XDG folders are temporary too: Chromium keeps its crash-report settings in ~/.config/chromium whatever the
    profile folder, and dconf its cache in ~/.cache.
    """
    scratch = tmp_path_factory.mktemp("chromium")
    env = {**os.environ, "XDG_CONFIG_HOME": str(scratch / "config"), "XDG_CACHE_HOME": str(scratch / "cache")}
    playwright = sync_api.sync_playwright().start()
    try:
        context = playwright.chromium.launch_persistent_context(
            str(scratch / "profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, env=env,
            viewport={"width": 1400, "height": 1000})
    except BaseException:
        playwright.stop()
        raise
    yield context
    context.close()
    playwright.stop()


@pytest.fixture
def page(browser):
    page = browser.new_page()
    page.set_default_timeout(30_000)
    yield page
    page.close()


def colour_centre_x(pixels: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 60) -> float:
    """The mean column of the pixels within ``tolerance`` (per channel) of ``rgb``; fails if there are none."""
    close = np.all(np.abs(pixels.astype(int) - np.array(rgb)) <= tolerance, axis=-1)
    assert close.any(), f"no pixel of colour {rgb} in the image"
    return float(np.nonzero(close)[1].mean())


CRIMSON = (220, 20, 60)  # plots.plot_tradeoff's M1 and M2 markers and labels


def test_reward_explorer_redraws_when_the_sliders_move(lab, page):
    open_notebook(page, lab.url, "00_reward.ipynb")
    run_all_cells(page)
    explorer = page.locator(".widget-interact")
    assert explorer.count() == 1, "notebook 00 should show one interactive explorer"
    first = image_src(explorer)

    move_slider(page, "α", -0.5)
    after_alpha = redrawn_image(explorer, first)
    move_slider(page, "T (ms)", 150)
    after_target = redrawn_image(explorer, after_alpha)

    start, alpha, target = (png_pixels(src) for src in (first, after_alpha, after_target))
    before, after = right_halves(alpha, target)
    assert not np.array_equal(before, after), "the iso-reward panel (right half) did not change when T moved"
    # M1 = (T/2, ACC) and M2 = (T, 1.05 ACC): alpha leaves them where they are, T = 80 -> 150 ms moves them right by
    # 35 and 70 ms on the panel's 5-200 ms axis, about a quarter of its width.
    still = np.subtract(*(colour_centre_x(h, CRIMSON) for h in right_halves(alpha, start)))
    moved = np.subtract(*(colour_centre_x(h, CRIMSON) for h in (after, before)))
    width = before.shape[1]
    assert abs(still) < 0.03 * width, f"M1/M2 moved {still:+.0f} px when only alpha changed"
    assert moved > 0.15 * width, f"M1/M2 moved {moved:+.0f} px of {width} when T went from 80 to 150 ms"


def option_text(select, index: int) -> str:
    """The text of a <select>'s ``index``-th option as a user reads it (ipywidgets writes spaces as no-break spaces)."""
    return select.locator("option").nth(index).inner_text().replace("\xa0", " ")


def test_run_explorer_redraws_for_the_trial_and_run_picked(lab, page):
    """Notebook 03 at the ci profile (set in the lab's copy of its parameters cell, as a user would edit it): every
    cell runs, and picking another trial, then another run, redraws the explorer's picture with that run's trials."""
    require_shared("benchmarks", "accel-nasbench")
    import nbformat

    source, copy = lab.root / "03_search.ipynb", lab.root / "03_search_ci.ipynb"
    notebook = nbformat.read(source, as_version=4)
    parameters = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    parameters.source = parameters.source.replace('profile = "laptop"', 'profile = "ci"')
    assert 'profile = "ci"' in parameters.source
    nbformat.write(notebook, copy)
    open_notebook(page, lab.url, copy.name)
    run_all_cells(page, timeout_s=600)
    explorer = page.locator(".widget-interact")
    assert explorer.count() == 1, "notebook 03 should show one interactive explorer"
    trials = labelled_widget(page, "dropdown", "trial").locator("select")
    assert trials.locator("option").count() == 50  # Accel-NASBench at ci: 80 samples per search, the top 50 listed
    assert option_text(trials, 0).startswith("#1: reward")
    first = image_src(explorer)

    trials.select_option(index=3)
    after_trial = redrawn_image(explorer, first)
    runs = labelled_widget(page, "dropdown", "run").locator("select")
    runs.select_option(label="soft search (the profile's evaluator)")
    redrawn_image(explorer, after_trial)
    wait_until(lambda: trials.locator("option").count() <= 4, 30,
               "the trial list did not follow the run (the ci search samples 2 x 2 children)")

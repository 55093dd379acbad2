"""The notebooks run interactively: `make lab` serves them in JupyterLab, driven in
a real browser, and the book's kernel is the one they get.

`make lab` is started as the README says, on a copy of chapters/ in a temporary
folder (the committed notebooks are never touched), on 127.0.0.1 and with no
browser; each chapter is opened at the URL it prints (Jupyter's token in it),
with the chapter's path in place of chapters/. Jupyter's own settings, runtime
files and workspaces go to the temporary folder too, with a decoy user-level
kernel called `python3` put first on Jupyter's path (tests/lab_server.py).
Headless Chromium (tests/browser_helpers.py, every request off 127.0.0.1
aborted) then, per chapter of CHAPTERS: opens the notebook, checks it runs on the
book's kernel, runs all cells with the Run menu, checks that no cell shows an
error, that the explorer widget renders with its sliders and a figure, and that
dragging a slider redraws the figure. Screenshots (the notebook after the run,
the widget before and after) go to `_build/screenshots/lab__*.png` beside the
book test's, the timings to `_build/screenshots/lab_report.json`.

Per widget the callback is timed twice: in the kernel (the chapter's plotting
function alone, median of 3) and as the reader sees it (slider released to new
figure shown). A callback slower than EXPENSIVE_S must only run when the slider is
let go: its sliders have `continuous_update=False`.

The server, its kernels and `make` itself are stopped whatever happens (SIGTERM,
then SIGKILL), and the test checks that none is left. Without Chromium or
Playwright it skips with a hint; with CI=true it fails instead.
"""
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from browser_helpers import chromium, offline_tab
from lab_server import make_lab

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:       # then the browser fixture skips (fails with CI=true)
    PlaywrightTimeout = TimeoutError

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "_build" / "screenshots"
sys.path.insert(0, str(ROOT))
from tools.notebook_setup import KERNELSPEC  # noqa: E402

# What each chapter's explorer is: the source line of its widget cell, the label
# of the slider to drag, a call of its callback (timed in the kernel) and its
# sliders (whose continuous_update is read in the kernel).
CHAPTERS = {
    "chapters/foundations/lstm_cell.ipynb": {
        "cell": "explorer = widgets.interactive(",
        "slider": "b_for",
        "callback": 'plot_unit("step", 1.0, 2.0, -1.0)',
        "sliders": "[w for w in explorer.children if hasattr(w, 'continuous_update')]",
    },
    "chapters/sine/training_tricks.ipynb": {
        "cell": "explore_run = widgets.interactive(",
        "slider": "kick",
        "callback": 'plot_run("denoising", 0, 0.1)',
        "sliders": "[w for w in explore_run.children if hasattr(w, 'continuous_update')]",
    },
}
EXPENSIVE_S = 0.05      # a callback slower than this cannot follow a drag
OPEN_MS = 90_000
RUN_ALL_S = 150
REDRAW_MS = 60_000


def _committed_notebooks():
    """{path: bytes} of the repository's own notebooks (the test must not touch)."""
    return {p: p.read_bytes() for p in sorted((ROOT / "chapters").rglob("*.ipynb"))}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(the URL `make lab` printed, report) of `make lab` serving a copy of
    chapters/."""
    if not (ROOT / ".venv" / "bin" / "jupyter-lab").is_file():
        pytest.fail("JupyterLab is not installed in .venv: run `make venv`")
    tmp = tmp_path_factory.mktemp("lab")
    SHOTS.mkdir(parents=True, exist_ok=True)
    committed = _committed_notebooks()
    book = tmp / "book"
    shutil.copytree(ROOT / "chapters", book / "chapters",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    report = {"kernel": KERNELSPEC["name"], "chapters": {}}
    start = time.perf_counter()
    try:
        with make_lab(ROOT, book, tmp,
                      "--LabApp.expose_app_in_browser=True") as server:
            report["server_start_s"] = round(server["start_s"], 1)
            yield server["url"], report
    finally:
        report["total_s"] = round(time.perf_counter() - start, 1)
        (SHOTS / "lab_report.json").write_text(json.dumps(report, indent=1))
        print(f"\nJupyterLab test: {json.dumps(report)}")
    assert not server["left"], f"processes left running: {server['left']}"
    assert _committed_notebooks() == committed, "a committed notebook changed"


@pytest.fixture(scope="module")
def browser():
    with chromium("the JupyterLab test") as browser:
        yield browser


# Waits (at most `ms`) until JupyterLab shows the notebook at `path` and its
# kernel is idle; returns the kernel's name and status as they are then.
_OPENED = """async ([path, ms]) => {
  const sleep = t => new Promise(r => setTimeout(r, t));
  const end = Date.now() + ms;
  while (!window.jupyterapp && Date.now() < end) await sleep(100);
  if (!window.jupyterapp) return {path: null};
  await jupyterapp.restored;
  let panel;
  while (Date.now() < end && (!(panel = jupyterapp.shell.currentWidget)
         || !panel.context || panel.context.path !== path || !panel.sessionContext))
    await sleep(100);
  if (!panel || !panel.context || panel.context.path !== path) return {path: null};
  await panel.context.ready;
  const ctx = panel.sessionContext;
  const kernel = () => ctx.session && ctx.session.kernel;
  while (Date.now() < end && !(kernel() && kernel().status === 'idle'))
    await sleep(100);
  return {path, kernel: kernel() ? kernel().name : null,
          status: kernel() ? kernel().status : 'no kernel',
          wanted: ctx.kernelPreference.name};
}"""
# Counts the cells the kernel starts (its execute_input messages) from now on.
_COUNT_STARTS = """() => {
  const kernel = jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  window.labTestStarted = 0;
  kernel.iopubMessage.connect((_, msg) => {
    if (msg.header.msg_type === 'execute_input') window.labTestStarted++;
  });
}"""
# Progress of "Run All Cells" (from the notebook's model) and every error output.
_PROGRESS = """() => {
  const panel = jupyterapp.shell.currentWidget, cells = panel.content.model.cells;
  let code = 0, ran = 0;
  const errors = [];
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    code++;
    if (cell.executionCount !== null) ran++;
    const tags = cell.getMetadata('tags') || [];
    for (let j = 0; j < cell.outputs.length; j++) {
      const out = cell.outputs.get(j).toJSON();
      if (out.output_type === 'error' && !tags.includes('raises-exception'))
        errors.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
    }
  }
  return {code, ran, started: window.labTestStarted, errors,
          kernel: panel.sessionContext.session.kernel.status};
}"""
# Scrolls to the cell whose source contains `marker` and tags its node.
_FIND_CELL = """async (marker) => {
  const nb = jupyterapp.shell.currentWidget.content;
  const i = nb.widgets.findIndex(c => c.model.sharedModel.getSource().includes(marker));
  if (i < 0) return -1;
  nb.activeCellIndex = i;
  await nb.scrollToItem(i, 'start');
  nb.widgets[i].node.setAttribute('data-lab-test', 'explorer');
  return i;
}"""
# Runs `code` in the notebook's kernel, outside any cell; returns its stdout
# (and the error, if it raises).
_KERNEL_RUN = """async (code) => {
  const kernel = jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const future = kernel.requestExecute({code, store_history: false});
  let text = '';
  future.onIOPub = msg => {
    if (msg.header.msg_type === 'stream' && msg.content.name === 'stdout')
      text += msg.content.text;
    if (msg.header.msg_type === 'error') text += 'ERROR ' + msg.content.evalue;
  };
  await future.done;
  return text;
}"""
_TIME_CALLBACK = """\
import time as _lab_time
_lab_dt = []
for _ in range(3):
    _lab_t0 = _lab_time.perf_counter()
    {callback}
    _lab_dt.append(_lab_time.perf_counter() - _lab_t0)
print(sorted(_lab_dt)[1])
print([w.continuous_update for w in {sliders}])
"""


def _run_all(tab, name):
    """Run > Run All Cells; returns the seconds it took. Done when the kernel
    has started every code cell, each shows its execution count and the kernel
    is idle (the stored counts, before the run, do not count)."""
    tab.evaluate(_COUNT_STARTS)
    tab.get_by_role("menuitem", name="Run", exact=True).click()
    tab.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    start = time.perf_counter()
    while True:
        state = tab.evaluate(_PROGRESS)
        assert not state["errors"], f"{name}: cells show errors: {state['errors']}"
        if (state["started"] == state["code"] == state["ran"]
                and state["kernel"] == "idle"):
            return time.perf_counter() - start
        assert time.perf_counter() - start < RUN_ALL_S, \
            f"{name}: Run All Cells not done in {RUN_ALL_S} s: {state}"
        time.sleep(0.25)


def _drag_to_end(tab, slider):
    """Drags the slider's handle to the right end of its track, as a reader would;
    returns the perf_counter time of the mouse release."""
    handle = slider.locator(".noUi-handle")
    box, track = handle.bounding_box(), slider.locator(".noUi-base").bounding_box()
    y = box["y"] + box["height"] / 2
    tab.mouse.move(box["x"] + box["width"] / 2, y)
    tab.mouse.down()
    tab.mouse.move(track["x"] + track["width"] + 20, y, steps=10)
    released = time.perf_counter()
    tab.mouse.up()
    return released


@pytest.mark.parametrize("name", list(CHAPTERS))
def test_chapter_runs_and_its_widget_redraws(browser, lab, name):
    printed, report = lab
    spec, shot = CHAPTERS[name], "lab__" + name[len("chapters/"):-6].replace("/", "__")
    blocked, errors, record = [], [], {}
    start = time.perf_counter()
    with offline_tab(browser, blocked, errors, viewport=(1280, 1100)) as tab:
        # reset: a fresh workspace, without the tabs of the chapter before
        url = printed.replace("/lab/tree/chapters?", f"/lab/tree/{name}?reset&")
        assert url != printed, printed
        tab.goto(url, wait_until="load", timeout=OPEN_MS)
        tab.set_default_timeout(OPEN_MS)
        opened = tab.evaluate(_OPENED, [name, OPEN_MS])
        record["open_s"] = round(time.perf_counter() - start, 1)
        assert opened["path"] == name, f"JupyterLab did not open {name}"
        assert opened["kernel"] == KERNELSPEC["name"], \
            f"{name} runs on the kernel {opened['kernel']!r}, not the book's " \
            f"(the notebook asks for {opened['wanted']!r}; {opened['status']})"
        assert opened["status"] == "idle", f"{name}: the kernel is {opened['status']}"

        record["run_all_s"] = round(_run_all(tab, name), 1)
        index = tab.evaluate(_FIND_CELL, spec["cell"])
        assert index >= 0, f"{name}: no cell with {spec['cell']!r}"
        cell = tab.locator('[data-lab-test="explorer"]')
        output = cell.locator(".jp-Cell-outputArea")
        widget = output.locator(".jupyter-widgets").first
        widget.wait_for(state="visible")
        image = output.locator("img")
        image.first.wait_for(state="visible", timeout=REDRAW_MS)
        tab.wait_for_timeout(200)  # let the output area settle before the shots
        tab.screenshot(path=str(SHOTS / f"{shot}__ran.png"))
        text = output.inner_text()
        assert "Error displaying widget" not in text and "Loading widget" not in text, \
            f"{name}: the widget did not render: {text[:300]!r}"
        assert image.count() == 1, f"{name}: {image.count()} figures in the widget"
        slider = output.locator(".widget-slider", has=tab.locator(
            ".widget-label", has_text=spec["slider"]))
        assert slider.count() == 1, f"{name}: no slider {spec['slider']!r}"
        cell.screenshot(path=str(SHOTS / f"{shot}__before.png"))

        before = image.first.get_attribute("src")
        value = slider.locator(".widget-readout").inner_text()
        released = _drag_to_end(tab, slider)
        try:
            tab.wait_for_function(
                "([out, src]) => { const imgs = out.querySelectorAll('img');"
                " return imgs.length === 1 && imgs[0].src !== src"
                " && imgs[0].complete; }",
                arg=[output.element_handle(), before], polling=20, timeout=REDRAW_MS)
        except PlaywrightTimeout:
            cell.screenshot(path=str(SHOTS / f"{shot}__after.png"))
            pytest.fail(f"{name}: the figure did not change in {REDRAW_MS} ms after "
                        f"dragging {spec['slider']} (now "
                        f"{slider.locator('.widget-readout').inner_text()})")
        record["redraw_seen_s"] = round(time.perf_counter() - released, 2)
        moved = slider.locator(".widget-readout").inner_text()
        assert moved != value, f"{name}: the slider {spec['slider']} did not move"
        tab.wait_for_timeout(200)
        cell.screenshot(path=str(SHOTS / f"{shot}__after.png"))
        assert image.first.get_attribute("src").startswith("data:image/png")
        record["slider"] = f"{spec['slider']}: {value} -> {moved}"

        out = tab.evaluate(_KERNEL_RUN, _TIME_CALLBACK.format(**spec))
        assert "ERROR" not in out, f"{name}: timing the callback failed: {out}"
        seconds, updates = out.strip().splitlines()[-2:]
        record["callback_kernel_s"] = round(float(seconds), 3)
        record["continuous_update"] = updates
        if float(seconds) > EXPENSIVE_S:
            assert "True" not in updates, \
                f"{name}: a {float(seconds):.2f} s callback on every slider move " \
                f"(continuous_update: {updates}); set continuous_update=False"
        state = tab.evaluate(_PROGRESS)
        assert not state["errors"], f"{name}: errors after the slider: {state}"
        # Kernel > Shut Down Kernel: the next chapter does not share the CPU with it.
        tab.evaluate("() => jupyterapp.shell.currentWidget.sessionContext.shutdown()")
    record["test_s"] = round(time.perf_counter() - start, 1)
    report["chapters"][name] = record
    assert not blocked, f"{name}: requests off 127.0.0.1: {blocked[:5]}"
    assert not errors, f"{name}: JavaScript errors: {errors[:5]}"


def test_book_kernel_wins_over_a_user_python3(tmp_path, monkeypatch):
    """Every notebook names the book's kernel, and Jupyter finds it in .venv even
    with a user-level `python3` kernel of another Python first on its path."""
    from jupyter_client.kernelspec import KernelSpecManager

    decoy = tmp_path / "kernels" / "python3"
    decoy.mkdir(parents=True)
    (decoy / "kernel.json").write_text(json.dumps(
        {"argv": ["/nonexistent/python3"], "display_name": "Python 3",
         "language": "python"}))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "0")
    monkeypatch.delenv("JUPYTER_PATH", raising=False)
    specs = KernelSpecManager()
    assert specs.get_kernel_spec("python3").argv[0] == "/nonexistent/python3"
    for path in sorted((ROOT / "chapters").rglob("*.ipynb")):
        meta = json.loads(path.read_text())["metadata"]["kernelspec"]
        assert meta == KERNELSPEC, f"{path.name}: kernelspec {meta}"
    spec = specs.get_kernel_spec(KERNELSPEC["name"])
    kernels = Path(sys.prefix, "share", "jupyter", "kernels")
    assert Path(spec.resource_dir).parent == kernels, \
        f"the book's kernel comes from {spec.resource_dir}, not this .venv"
    assert Path(spec.argv[0]) == Path(sys.prefix, "bin", "python"), spec.argv
    assert spec.display_name == KERNELSPEC["display_name"]


def test_make_lab_nbval_and_execute_use_the_book_kernel():
    """The Makefile installs the kernel under KERNELSPEC's name and runs nbval and
    JupyterLab on it; `make execute` (tools/execute_notebooks.py) and Binder too."""
    make = (ROOT / "Makefile").read_text()
    assert f"KERNEL_NAME := {KERNELSPEC['name']}\n" in make
    assert f"KERNEL_DISPLAY := {KERNELSPEC['display_name']}\n" in make
    dry = subprocess.run(["make", "-n", "-C", str(ROOT), "lab", "nbval",
                          "LAB_DIR=/the/book"], capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert f"--nbval-kernel-name {KERNELSPEC['name']}" in dry.stdout
    assert '--ServerApp.root_dir="/the/book"' in dry.stdout
    assert f"--MappingKernelManager.default_kernel_name={KERNELSPEC['name']}" \
        in dry.stdout
    assert "--name $(KERNEL_NAME)" in make
    assert f"--name {KERNELSPEC['name']}" in (ROOT / "binder" / "postBuild").read_text()
    from tools import execute_notebooks

    assert execute_notebooks.KERNELSPEC is KERNELSPEC


def test_readme_says_make_lab():
    """The README's way to run the notebooks is the one this test runs."""
    readme = (ROOT / "README.md").read_text()
    assert "`make lab`" in readme
    assert ".venv/bin/jupyter lab" not in readme, "the README still says jupyter lab"

"""`make lab` for tests/test_lab.py: started as the README says, on 127.0.0.1
and with no browser, its URL (with Jupyter's token) read from what it prints,
and stopped with every process it started.

Jupyter's and IPython's user state (config, runtime files, JupyterLab settings
and workspaces) go to a temporary folder, so the reader's own settings and open
tabs play no part, and a user-level kernel called `python3` that is not the
book's (another Python) is put first on Jupyter's path: the notebooks must not
pick it.
"""
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

START_S = 240          # includes building the C++ kernel where it is not cached
STOP_S = 15            # SIGTERM, then SIGKILL
SETTINGS = {           # JupyterLab user settings: no news prompt over the page
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jupyter_env(tmp):
    """os.environ with Jupyter's user state in `tmp` and a decoy user `python3`."""
    decoy = tmp / "data" / "kernels" / "python3"
    decoy.mkdir(parents=True)
    (decoy / "kernel.json").write_text(json.dumps({
        "argv": ["/nonexistent/python3", "-m", "ipykernel_launcher", "-f",
                 "{connection_file}"],
        "display_name": "Python 3 (another Python)", "language": "python"}))
    for name, value in SETTINGS.items():
        path = tmp / "lab-settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env = dict(os.environ,
               JUPYTER_CONFIG_DIR=str(tmp / "config"),
               JUPYTER_DATA_DIR=str(tmp / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               JUPYTER_PREFER_ENV_PATH="0",       # user-level kernels first
               JUPYTERLAB_SETTINGS_DIR=str(tmp / "lab-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "lab-workspaces"),
               IPYTHONDIR=str(tmp / "ipython"))
    env.pop("JUPYTER_PATH", None)
    return env


def stop(proc):
    """SIGTERM to `make lab`, the server and its kernels, SIGKILL to what is left
    after STOP_S; returns the processes still alive after that (should be none)."""
    import psutil

    try:
        top = psutil.Process(proc.pid)
        family = [top, *top.children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    for p in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(family, timeout=STOP_S)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    _, alive = psutil.wait_procs(alive, timeout=5)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    return alive


@contextlib.contextmanager
def make_lab(root, book, tmp, args=""):
    """Runs `make lab` in `root` serving the folder `book` and reads the URL it
    prints for the reader (Jupyter's token in it); yields a dict with that URL,
    the base URL, the token, the log's path and the seconds it took to start. On
    exit every process is stopped; the dict's `left` then lists any that would
    not."""
    port = free_port()
    lab_args = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0"
    printed = re.compile(rf"http://127\.0\.0\.1:{port}/lab/tree/chapters"
                         rf"\?token=([0-9a-f]{{32,}})")
    log_path = tmp / "lab.log"
    state = {"left": []}
    start = time.perf_counter()
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            ["make", "-C", str(root), "lab", f"LAB_DIR={book}",
             f"LAB_ARGS={lab_args} {args}"],
            env=jupyter_env(tmp), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            while True:
                out = log_path.read_text()
                url = printed.search(out)
                if url:
                    with contextlib.suppress(OSError):
                        status = f"{base}/api/status?token={url.group(1)}"
                        with urllib.request.urlopen(status, timeout=5):
                            break
                assert proc.poll() is None, f"`make lab` exited:\n{out[-3000:]}"
                assert time.perf_counter() - start < START_S, \
                    f"no JupyterLab URL in {START_S} s:\n{out[-3000:]}"
                time.sleep(0.5)
            state.update(url=url.group(0), base=base, token=url.group(1),
                         log=log_path, start_s=time.perf_counter() - start)
            yield state
        finally:
            state["left"] = stop(proc)

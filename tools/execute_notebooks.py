"""Re-run notebooks in place, top to bottom, each in a fresh kernel.

Usage: python -m tools.execute_notebooks chapters/part/topic.ipynb [...]

Outputs and widget state are stored, so the book renders them and nbval checks
them. Each runs on the book's kernel, `lstm-book` (installed by `make venv`), as
nbval does. This is how committed outputs are refreshed (`make execute`).
"""
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tools.notebook_setup import KERNELSPEC


def execute(path):
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=900, kernel_name=KERNELSPEC["name"],
                            resources={"metadata": {"path": str(path.parent)}},
                            store_widget_state=True)
    start = time.perf_counter()
    client.execute()
    nbformat.write(nb, path)
    return time.perf_counter() - start


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: {execute(name):.0f} s", flush=True)

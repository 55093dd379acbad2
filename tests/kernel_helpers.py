"""Skip (or, in CI, fail) the tests of the C++ kernel where it cannot be built."""
import os
import shutil

import pytest

from lstm_core import cpu_kernel


def require_kernel():
    """The kernel module; skips the test with a hint without a compiler or ninja.

    With CI=true it fails instead: `.ci/run` installs both, so a skip there would
    hide a broken build."""
    env_path = cpu_kernel._build_env()["PATH"]
    missing = [tool for tool in (os.environ.get("CXX", "c++"), "ninja")
               if shutil.which(tool, path=env_path) is None]
    if missing:
        msg = (f"{' and '.join(missing)} not found, so the C++ kernel cannot be built "
               f"here; {cpu_kernel.HINT}")
        if os.environ.get("CI") == "true":
            pytest.fail(msg + " (.ci/run installs both; with CI=true its tests must run)")
        pytest.skip(msg + ", then rerun to test it")
    module = cpu_kernel.load()
    assert module is not None, "the C++ kernel failed to build (see the warning)"
    return module

"""Build and load the C++ CPU kernel of the peephole path (`peephole_cpu.cpp`).

`load()` returns the compiled module, or None with one RuntimeWarning saying why
and what to install; `torch_lstm` then runs its pure-PyTorch Function (same
equations, slower). Nothing here can hang a notebook or load code built for
another machine:

- The build folder, `<root>/lstm_core_peephole_<key>` with root the folder
  torch.utils.cpp_extension uses (TORCH_EXTENSIONS_DIR, else
  ~/.cache/torch_extensions), is keyed by everything that changes the binary:
  the source, the flags, the torch and Python versions, the compiler and the
  CPU's instruction-set features (the kernel is built with -march=native). Two
  checkouts of the same source share one build; a home folder shared by
  machines with different CPUs holds one build per kind of CPU.
- The build runs in a child process (`python -m lstm_core.cpu_kernel <dir>`)
  under an OS file lock, which the OS releases when its holder dies, so there
  is no stale lock. A build that was killed leaves no `complete` marker and the
  next one starts from an empty folder. A build that failed leaves `failed`
  (with its log) and is not retried for that key; delete the folder to retry.
- Waiting for another process's build and the build itself are bounded
  (`WAIT_S`, `BUILD_S`); past either, the pure-PyTorch path runs with a warning.
- A first build says that it is compiling and about how long it takes.

Set LSTM_CORE_PURE_TORCH=1 to skip the kernel altogether.
"""
import hashlib
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

SOURCE = Path(__file__).with_name("peephole_cpu.cpp")
# No -ffast-math: the gate activations are ATen's vector exp and tanh (SLEEF,
# 1 ulp), which keep IEEE infinities and NaN. -march=native picks their width
# (AVX-512, AVX2, NEON); the build key includes the CPU's features.
FLAGS = ("-O3", "-march=native")
# at::parallel_for is inlined from ATen's headers: it runs threads only in code
# compiled with OpenMP, and must use torch's OpenMP runtime (GNU libgomp on Linux,
# loaded by torch before the kernel). Elsewhere the kernel runs its blocks on one
# thread (same results, see peephole_cpu.cpp).
OPENMP_FLAGS = ("-fopenmp",)
WAIT_S = 300        # at most this long for another process's build
BUILD_S = 600       # at most this long for our own build
HINT = ("install a C++ compiler and ninja to build it (Debian/Ubuntu: "
        "`sudo apt-get install g++ ninja-build`; macOS: `xcode-select --install`)")

_LOADED = {}


def _cpu_features():
    """The CPU's instruction-set features, as the OS reports them."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":")[0].strip() in ("flags", "Features"):
                return " ".join(sorted(line.split(":", 1)[1].split()))
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string",
                                   "hw.optional"], capture_output=True, text=True,
                                  timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor()


def _compiler():
    """(path of the C++ compiler or None, its version line)."""
    path = shutil.which(os.environ.get("CXX", "c++"))
    if path is None:
        return None, ""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return path, ""
    return path, (out.splitlines() or [""])[0]


def flags():
    """The compiler flags: FLAGS, plus OPENMP_FLAGS on Linux with GCC (where torch's
    OpenMP runtime is GNU's; clang's -fopenmp would load a second runtime)."""
    _, version = _compiler()
    if sys.platform.startswith("linux") and "clang" not in version.lower():
        return FLAGS + OPENMP_FLAGS
    return FLAGS


def build_dir():
    """The build folder for this source, flags, torch, Python, compiler and CPU."""
    import torch
    from torch.utils import cpp_extension

    compiler, version = _compiler()
    h = hashlib.sha256(SOURCE.read_bytes())
    for part in (flags(), torch.__version__, sys.version, platform.machine(),
                 compiler, version, _cpu_features()):
        h.update(repr(part).encode())
    root = Path(os.environ.get("TORCH_EXTENSIONS_DIR")
                or cpp_extension.get_default_build_root())
    return root / f"lstm_core_peephole_{h.hexdigest()[:16]}"


def _lock_path(folder):
    return Path(folder).with_name(Path(folder).name + ".lock")


def _busy(folder):
    """True while another process holds the build lock."""
    lock = _Lock(_lock_path(folder))
    try:
        return not lock.acquire(0)
    finally:
        lock.file.close()                          # closing releases it


def _name(folder):
    return Path(folder).name            # a valid module name (letters, digits, _)


def _import(folder):
    name = _name(folder)
    so = next(Path(folder).glob(f"{name}*.so"), None) or \
        next(Path(folder).glob(f"{name}*.pyd"), None)
    if so is None:
        raise ImportError(f"no compiled module in {folder}")
    import torch  # noqa: F401  (the module links against torch's libraries)
    spec = importlib.util.spec_from_file_location(name, so)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _warn(reason):
    warnings.warn(f"lstm_core: the C++ kernel for LSTMs with peepholes on the CPU is "
                  f"not used ({reason}); running the pure-PyTorch path instead "
                  f"(same results, slower)", RuntimeWarning, stacklevel=4)


def load():
    """The compiled kernel module, or None (see the module doc). Cached per process."""
    if os.environ.get("LSTM_CORE_PURE_TORCH") == "1":
        return None
    if "module" not in _LOADED:
        _LOADED["module"] = _load()
    return _LOADED["module"]


def _load():
    folder = build_dir()
    if (folder / "complete").exists():
        try:
            return _import(folder)
        except ImportError as exc:      # a broken build: rebuild it below
            (folder / "complete").unlink(missing_ok=True)
            print(f"lstm_core: the kernel in {folder} did not load ({exc}); "
                  "rebuilding it", file=sys.stderr)
    if (folder / "failed").exists():
        _warn(f"its build failed before, see {folder / 'build.log'}; delete that "
              "folder to try again")
        return None
    env = _build_env()
    if shutil.which(os.environ.get("CXX", "c++")) is None:
        _warn(f"no C++ compiler found; {HINT}")
        return None
    if shutil.which("ninja", path=env["PATH"]) is None:
        _warn(f"ninja was not found; {HINT}")
        return None
    folder.parent.mkdir(parents=True, exist_ok=True)
    lock = _Lock(_lock_path(folder))
    try:
        return _build_locked(folder, lock, env)
    finally:
        lock.file.close()                  # releases the lock (the build has ended)


def _build_locked(folder, lock, env):
    """Take the build lock (waiting for another builder), then build if needed."""
    if not lock.acquire(0):
        print(f"lstm_core: waiting for another process that is compiling the C++ "
              f"kernel into {folder} (at most {WAIT_S // 60} min)...", file=sys.stderr,
              flush=True)
        if not lock.acquire(WAIT_S):
            _warn(f"another process has been compiling it for over {WAIT_S} s")
            return None
        if (folder / "complete").exists():                 # its build succeeded
            return _import_or_warn(folder)
    if (folder / "failed").exists():
        _warn(f"its build failed, see {folder / 'build.log'}")
        return None
    print("lstm_core: compiling the C++ kernel for LSTMs with peepholes (once per "
          "machine and torch version, about 30 s on an idle machine)...",
          file=sys.stderr, flush=True)
    start = time.monotonic()
    # The build process shares our lock (the same open file): if we are killed
    # while it compiles, it keeps the lock until it ends, so no second build can
    # start in the same folder meanwhile.
    fd = lock.file.fileno()
    if os.name == "nt":                    # no shared locks there: the child takes it
        lock.release()
    try:
        proc = subprocess.run([sys.executable, "-m", "lstm_core.cpu_kernel",
                               str(folder), str(fd) if os.name != "nt" else ""],
                              capture_output=True, text=True, timeout=BUILD_S,
                              env=env, cwd=str(SOURCE.parent.parent),
                              pass_fds=(fd,) if os.name != "nt" else ())
    except subprocess.TimeoutExpired:
        _warn(f"the build did not finish within {BUILD_S} s")
        return None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        _warn(f"the build failed: {last}; log in {folder / 'build.log'}")
        return None
    module = _import_or_warn(folder)
    if module is not None:
        print(f"lstm_core: kernel ready ({time.monotonic() - start:.0f} s)",
              file=sys.stderr, flush=True)
    return module


def _import_or_warn(folder):
    try:
        return _import(folder)
    except ImportError as exc:
        _warn(f"the built module did not load: {exc}")
        return None


def _build_env():
    # ninja from PyPI (requirements.txt) lives beside the interpreter, which is
    # not on PATH when a venv's python runs without being activated.
    env = dict(os.environ)
    if shutil.which("ninja") is None:
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent),
                                       env.get("PATH", "")])
    return env


# ----------------------------------------------------------- the build process

class _Lock:
    """An exclusive OS lock on a file, released by the OS if its holder dies."""

    def __init__(self, path):
        self.file = open(path, "a+")

    def acquire(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            try:
                if os.name == "nt":
                    import msvcrt
                    self.file.seek(0)
                    msvcrt.locking(self.file.fileno(), msvcrt.LK_NBLCK, 1)
                else:
                    import fcntl
                    fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.5)

    def release(self):
        if os.name == "nt":
            import msvcrt
            self.file.seek(0)
            msvcrt.locking(self.file.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl
            fcntl.flock(self.file, fcntl.LOCK_UN)


def _build(folder, inherited_lock=False):
    """Build into folder under the lock (the child process). Exit status 0: built.

    With inherited_lock the parent holds the lock for us (on the same open file);
    otherwise (Windows, or a direct call) we take it here."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = None if inherited_lock else _Lock(_lock_path(folder))   # kept open
    if lock is not None and not lock.acquire(WAIT_S):
        print(f"another process has been building {folder} for over {WAIT_S} s",
              file=sys.stderr)
        return 3
    if (folder / "complete").exists():             # built while we waited
        return 0
    if (folder / "failed").exists():
        print(f"the build failed before: {folder / 'build.log'}", file=sys.stderr)
        return 2
    for item in folder.iterdir():                  # a killed build's leftovers
        shutil.rmtree(item) if item.is_dir() else item.unlink()
    from torch.utils import cpp_extension

    log = folder / "build.log"
    start = time.monotonic()
    status = os.dup(2)                             # for the parent: one line
    try:
        with open(log, "w") as out:
            os.dup2(out.fileno(), 1)               # the compiler's output
            os.dup2(out.fileno(), 2)
            cflags = list(flags())
            cpp_extension.load(name=_name(folder), sources=[str(SOURCE)],
                               extra_cflags=cflags,
                               extra_ldflags=[f for f in cflags if "openmp" in f],
                               build_directory=str(folder), verbose=True)
    except Exception as exc:                       # compiler error, no ninja, ...
        reason = (str(exc).strip().splitlines() or [""])[-1]
        (folder / "failed").write_text(f"{type(exc).__name__}: {exc}\n")
        os.write(status, f"{type(exc).__name__}: {reason}\n".encode())
        return 2
    (folder / "complete").write_text(f"built in {time.monotonic() - start:.0f} s\n")
    return 0


def _main(argv):
    """`python -m lstm_core.cpu_kernel`: build (or find) the kernel now and say so;
    exit status 0 if it loads, 1 if the pure-PyTorch path would run. With a folder
    argument: the build process itself (see `_load`)."""
    if argv:
        return _build(argv[0], inherited_lock=len(argv) > 1 and argv[1] != "")
    module = load()
    if module is None:
        print("lstm_core: the C++ kernel is not available here; peephole LSTMs run "
              "on the pure-PyTorch path", file=sys.stderr)
        return 1
    print(f"lstm_core: C++ kernel ready in {Path(module.__file__).parent}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

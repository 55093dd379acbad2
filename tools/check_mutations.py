"""Mutation evidence for issue 12: no check in lstm_core goes untested.

Every check added to lstm_core since BASE (the commit before the validation
work) is found in `git diff BASE` and removed, one at a time, in a temporary copy
of the package: a `raise` becomes `pass` (a bare `raise` inside an `except`, so
the raw error comes through), a `validate` call returns its argument unchecked
(or becomes `pass` as a statement), a few checks that are neither (a `return inf`,
a folder fsync, ...) and the C++ kernel's TORCH_CHECKs are removed by hand (see
CUSTOM, CPP). For each, the issue's tests (test_bad_input.py, test_properties.py,
first those whose names match the file, then all, then the module's own tests)
run until one fails. The table printed is the evidence for the closing note:

    check (file:line, what it guards) | test that fails without it | failed?

A row with "NO" is a check no test catches: a missing test. Not part of `make
test` (minutes: one forked pytest run per check, one kernel build per C++ check):

    .venv/bin/python tools/check_mutations.py              # everything
    .venv/bin/python tools/check_mutations.py --list       # the checks, no runs
    .venv/bin/python tools/check_mutations.py -k io.py     # files matching
    .venv/bin/python tools/check_mutations.py --no-cpp     # skip the kernel builds
"""
import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = "16abba1"               # main before 762b8cb (lstm_core.validate and the rest)
TESTS = ["tests/test_bad_input.py", "tests/test_properties.py"]
OWN_TESTS = {"numpy_lstm": "test_numpy_lstm", "model": "test_train",
             "optim": "test_train", "losses": "test_train", "generate": "test_train",
             "train": "test_train", "torch_lstm": "test_torch_lstm",
             "torch_peephole": "test_torch_lstm", "io": "test_io",
             "gradcheck": "test_gradcheck", "check": "test_check", "data": "test_data",
             "bench": "test_bench", "viz": "test_viz", "validate": "test_numpy_lstm",
             "peephole_cpu": "test_torch_lstm"}
KEYWORDS = {   # pytest -k of the tests tried first, by file
    "numpy_lstm": "lstm_forward or lstm_step or lstm_backward or rnn or init or dtype "
                  "or empty or hidden or float32 or messages or odd",
    "validate": "validate or lstm_forward or dtype or odd or messages",
    "model": "sequence_model or threads or overflow or messages or odd",
    "optim": "optimis", "losses": "loss or mask or step_weights or decay or messages",
    "generate": "predict or free_run or non_finite or overflow",
    "train": "fit or config or test_set or mask or diverg or nan_data or targets or "
             "float32 or overflow",
    "torch_lstm": "torch or kernel or parameter or non_finite or readout or dtype or "
                  "odd or hidden or empty or float32_param or half",
    "io": "save or load or permission or folder or write or bench or umask or missing",
    "gradcheck": "rel_error or check_grads or directional or odd",
    "check": "check_lstm or check_windows or exercise or backward_and_window",
    "data": "grammar or encode or reber or sine or dtype or two_sequences",
    "bench": "bench or flops or timing or runner", "viz": "player",
    "peephole_cpu": "kernel or parameter or half"}
# validate's checks that return their (checked) argument, and those used as statements
IDENTITY = {"positive_int", "nonnegative_int", "number", "one_of", "generator",
            "float_dtype", "array", "nonnegative_weights", "tensor", "torch_dtype",
            "torch_device", "boolean"}
STATEMENT = {"lstm_options", "check_keys"}
SPECIAL = {"sequence": "{1}.shape[:2]",                      # returns (T, B)
           "state": "(np.zeros(({2}, {3}), {4}) if {1} is None else {1})"}

# Checks that are neither a raise nor a validate call: (file, code, replacement,
# what it guards); the code must appear verbatim in the file.
CUSTOM = [
    ("gradcheck.py",
     "    if not (np.isfinite(a).all() and np.isfinite(b).all()):\n"
     "        return float(\"inf\")\n", "", "rel_error is inf on NaN or infinity"),
    ("train.py",
     "        if not np.isfinite(Y_hat).all():                    # diverged: no "
     "backward\n            return float(\"inf\"), float(\"nan\")\n", "",
     "NumPy backend: non-finite outputs stop before the backward"),
    ("train.py",
     "        if not np.isfinite(loss):\n            return loss, float(\"nan\")\n",
     "", "NumPy backend: a non-finite loss stops before the backward"),
    ("train.py",
     "        except FloatingPointError:                          # dH overflowed\n"
     "            return loss, float(\"inf\")\n",
     "        except ZeroDivisionError:\n            pass\n",
     "NumPy backend: an overflowing dH is a divergence"),
    ("train.py",
     "    @np.errstate(over=\"ignore\", invalid=\"ignore\")          # each result "
     "is checked\n", "", "NumPy backend: no overflow warnings (checked)"),
    ("train.py",
     "        if not self.torch.isfinite(loss):\n"
     "            return float(loss.detach()), float(\"nan\")\n", "",
     "torch backend: a non-finite loss stops before the backward"),
    ("io.py", "    _fsync_dir(path.parent)\n", "",
     "the folder is fsynced after the rename"),
    ("io.py", "        fd = os.open(tmp, flags, 0o666)\n",
     "        umask = os.umask(0)\n        os.umask(umask)\n"
     "        fd = os.open(tmp, flags, 0o666)\n", "the umask is never touched"),
    ("io.py",
     "    except BaseException:\n        tmp.unlink(missing_ok=True)\n        raise\n",
     "    except BaseException:\n        raise\n",
     "a failed write leaves no temporary file"),
    ("io.py",
     "        with open(path, \"rb\") as fh:\n"
     "            data = np.load(fh, allow_pickle=False)\n",
     "        if True:\n            data = np.load(path, allow_pickle=False)\n",
     "load_params closes its file on a corrupt archive"),
]
# The kernel's own checks (peephole_cpu.cpp): the TORCH_CHECK statement holding the
# marker (its first occurrence) is removed; each needs a build of its own (about a
# minute).
CPP = [('" must be on the CPU, got "', "every tensor is on the CPU"),
       ('" must be a dense tensor"', "every tensor is dense"),
       ('t.scalar_type() == dtype', "every tensor has X's dtype"),
       ('t.sizes() == shape', "every tensor has the shape the loops read"),
       ('"X must be float32 or float64, got "', "X is float32 or float64"),
       ('"X must be a non-empty (T, B, I) tensor"',
        "X is a non-empty (T, B, I) tensor"),
       ('"the peephole vectors must be contiguous"',
        "forward: the peephole vectors are contiguous"),
       ('"the saved buffers must be contiguous"',
        "backward: the saved buffers are contiguous"),
       ('"W_hh must have 3H or 4H rows, got "',
        "forward: W_hh has 3H or 4H rows (the first of two)")]


@dataclass
class Mutation:
    file: str          # under lstm_core/
    line: int
    what: str          # the check, in words or code
    old: str           # replaced in the file's text (first occurrence at/after line)
    new: str
    offset: int = 0    # character offset of `old` in the file


def added_lines(path):
    """Line numbers (1-based) of the working tree's `path` added since BASE."""
    out = subprocess.run(["git", "diff", "-U0", BASE, "--", path], cwd=ROOT, text=True,
                         capture_output=True, check=True).stdout
    lines = set()
    for m in re.finditer(r"^@@ -\S+ \+(\d+)(?:,(\d+))? @@", out, re.M):
        start, n = int(m[1]), int(m[2] or 1)
        lines.update(range(start, start + n))
    return lines


def _short(text, n=70):
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 3] + "..."


def _offset(lines, lineno, col):
    return sum(len(s) for s in lines[:lineno - 1]) + col


def python_mutations(file):
    path = ROOT / "lstm_core" / file
    src = path.read_text()
    lines = src.splitlines(keepends=True)
    tree = ast.parse(src)
    added = added_lines(f"lstm_core/{file}")
    parents = {child: node for node in ast.walk(tree)
               for child in ast.iter_child_nodes(node)}
    own = {f.name for f in tree.body if isinstance(f, ast.FunctionDef)} \
        if file == "validate.py" else set()
    found = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) not in added:
            continue
        seg = ast.get_source_segment(src, node)
        start = _offset(lines, node.lineno, node.col_offset)
        parent = parents.get(node)
        if isinstance(node, ast.Raise) and node.exc is not None:    # not a re-raise
            in_except = isinstance(parent, ast.ExceptHandler)
            guard = (f"except {ast.unparse(parent.type)}" if in_except else
                     f"if {ast.unparse(parent.test)}" if isinstance(parent, ast.If)
                     else "")
            found.append(Mutation(file, node.lineno, _short(f"{guard}: {seg}"), seg,
                                  "raise" if in_except else "pass", start))
            continue
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) \
                and f.value.id == "V":
            name = f.attr                          # V.array(...) and the like
        elif isinstance(f, ast.Name) and f.id in own:
            name = f.id                            # array(...) inside validate.py
        else:
            continue
        if name not in IDENTITY | STATEMENT | set(SPECIAL):
            continue
        args = [ast.get_source_segment(src, a) for a in node.args]
        if isinstance(parent, ast.Expr):
            found.append(Mutation(file, node.lineno, _short(seg), seg, "pass", start))
        elif name in SPECIAL:
            found.append(Mutation(file, node.lineno, _short(seg), seg,
                                  SPECIAL[name].format(*args), start))
        elif name in IDENTITY and len(args) >= 2:
            found.append(Mutation(file, node.lineno, _short(seg), seg, args[1], start))
    for cfile, old, new, what in CUSTOM:
        if cfile == file:
            at = src.index(old)
            found.append(Mutation(file, src.count("\n", 0, at) + 1, what, old, new, at))
    return sorted(found, key=lambda m: (m.line, m.offset))


def cpp_mutations():
    src = (ROOT / "lstm_core" / "peephole_cpu.cpp").read_text()
    out = []
    for marker, what in CPP:
        at = src.rindex("  TORCH_CHECK(", 0, src.index(marker))
        old = src[at:src.index(");\n", at) + 3]
        out.append(Mutation("peephole_cpu.cpp", src.count("\n", 0, at) + 1,
                            f"TORCH_CHECK: {what}", old, "", at))
    return out


class Recorder:
    """A pytest plugin that remembers the first failing test."""

    def __init__(self):
        self.failed = []

    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.failed.append(report.nodeid)

    def pytest_collectreport(self, report):
        if report.failed:
            self.failed.append(f"{report.nodeid} (collection error)")


def _run_tests(package_root, selections, log, env):
    """In a forked child: pytest on each selection in turn until a test fails."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                                           # the child
        os.close(read)
        code = 1
        try:
            with open(log, "w") as out:
                os.dup2(out.fileno(), 1)
                os.dup2(out.fileno(), 2)
                sys.path.insert(0, str(package_root))
                os.environ["PYTHONPATH"] = str(package_root)
                os.environ["HYPOTHESIS_PROFILE"] = "mutation"
                os.environ.update(env)
                import pytest
                failed = ""
                for args in selections:
                    rec = Recorder()
                    pytest.main(["-q", "-x", "-p", "no:cacheprovider",
                                 f"--rootdir={ROOT}", *args], plugins=[rec])
                    if rec.failed:
                        failed = rec.failed[0]
                        break
                os.write(write, failed.encode())
                code = 0
        finally:
            os._exit(code)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 4096):
        chunks.append(chunk)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        return f"(the test run itself crashed, see {log})"
    return b"".join(chunks).decode()


def run(mutation, workdir):
    stem = Path(mutation.file).stem
    pkg = Path(workdir) / "pkg"
    shutil.rmtree(pkg, ignore_errors=True)
    shutil.copytree(ROOT / "lstm_core", pkg / "lstm_core",
                    ignore=shutil.ignore_patterns("__pycache__"))
    target = pkg / "lstm_core" / mutation.file
    src = target.read_text()
    assert src[mutation.offset:].startswith(mutation.old), mutation
    end = mutation.offset + len(mutation.old)
    src = src[:mutation.offset] + mutation.new + src[end:]
    if target.suffix == ".py":
        compile(src, str(target), "exec")                 # a mutation must still parse
    target.write_text(src)
    tests = [str(ROOT / t) for t in TESTS]
    own = ROOT / "tests" / f"{OWN_TESTS[stem]}.py"
    selections = [[*tests, "-k", KEYWORDS[stem]], tests, [str(own)]]
    # A mutated kernel builds in a folder of its own (keyed by its source), here.
    env = {"TORCH_EXTENSIONS_DIR": str(Path(workdir) / "ext")} \
        if target.suffix == ".cpp" else {}
    return _run_tests(pkg, selections, Path(workdir) / f"{stem}_{mutation.line}.log",
                      env)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", action="store_true", help="list the checks, run nothing")
    ap.add_argument("-k", default="", help="only files whose name contains this")
    ap.add_argument("--no-cpp", action="store_true",
                    help="skip the C++ kernel's checks")
    args = ap.parse_args()
    files = sorted(p.name for p in (ROOT / "lstm_core").glob("*.py"))
    mutations = [m for f in files if args.k in f for m in python_mutations(f)]
    if not args.no_cpp and args.k in "peephole_cpu.cpp":
        mutations += cpp_mutations()
    if args.list:
        for m in mutations:
            print(f"lstm_core/{m.file}:{m.line}  {m.what}")
        print(f"{len(mutations)} checks")
        return
    # Import the heavy modules once; each forked child then imports only lstm_core.
    import hypothesis
    import numpy  # noqa: F401
    import pytest  # noqa: F401
    import torch  # noqa: F401
    hypothesis.settings.register_profile(
        "mutation", derandomize=True, deadline=None, max_examples=30, database=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        report_multiple_bugs=False,
        suppress_health_check=list(hypothesis.HealthCheck))
    with tempfile.TemporaryDirectory() as workdir:
        baseline = Mutation("validate.py", 0, "(no mutation)", "", "", 0)
        if run(baseline, workdir):
            sys.exit("the tests fail without any mutation: fix that first")
        print("| check (file:line, what it guards) | test that fails without it | "
              "failed? |\n|---|---|---|", flush=True)
        missed, start = 0, time.time()
        for m in mutations:
            failed = run(m, workdir)
            missed += not failed
            test = failed.replace("tests/", "").split("[")[0] if failed else "none"
            print(f"| lstm_core/{m.file}:{m.line} `{m.what.replace('|', '/')}` | "
                  f"{test} | {'yes' if failed else 'NO'} |", flush=True)
    print(f"\n{len(mutations)} checks removed one at a time, {missed} not caught "
          f"({time.time() - start:.0f} s)")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()

"""Benchmark: forward + backward of one LSTM layer, every implementation in one run.

    python benchmarks/bench_lstm.py                    # headline size, grid, memory
    python benchmarks/bench_lstm.py --quick            # headline size only
    python benchmarks/bench_lstm.py --device cuda      # the same on a GPU
    python benchmarks/bench_lstm.py --save benchmarks/results/cpu.json
    python benchmarks/bench_lstm.py --quick --compile  # + torch.compile (minutes)

Prints each implementation's median time, its ratio to torch.nn.LSTM, its achieved
GFLOP/s (matrix products only) and that as a fraction of a matrix-multiply peak
measured in the same run, plus the thread count and the device; then checks the
targets of the speed chapter. Implementations are described in lstm_core.bench.

The headline size is also timed at each thread count of --threads (default 1 and
2), and on a CPU, at the headline size only, with two extra rows: nn.LSTM under
bfloat16 autocast where the CPU has native bfloat16 arithmetic (else a message
says why not; its error against float32 is printed), and with --compile the
autograd loop compiled by torch.compile (inductor), checked against the eager
loop before it is timed, its compile time printed beside its run time. The
compile takes minutes (it grows with T), so it is opt-in and not in `make test`.
"""
import os

# NumPy's BLAS on one thread, set before NumPy loads. With its default of one
# thread per core, its idle threads keep spinning after each product and take the
# second core from the torch runs interleaved with it (measured here: nn.LSTM at
# the headline size 13-14 ms instead of 7.6 ms). Alone, the NumPy reference is
# about as fast with one BLAS thread as with two: its products are small.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lstm_core import bench  # noqa: E402

HEADLINE = {"T": 100, "B": 32, "I": 8, "H": 128}
GRID = [{"T": T, "B": B, "I": 8, "H": H}
        for H in (32, 128, 512) for T in (100, 1000) for B in (1, 32)]


def measure(size, names, device, repeats, extra=None):
    runners = {n: bench.make_runner(n, **size, device=device) for n in names}
    runners |= extra or {}
    times = bench.time_interleaved(runners, repeats=repeats)
    return {n: float(np.median(t)) for n, t in times.items()}


def extra_rows(args):
    """{name: run} of the extra headline rows, and {name: info} to print/save."""
    runners, info = {}, {}
    if args.device != "cpu":
        return runners, info
    hw = bench.bf16_hardware()
    if hw is None:
        print("bfloat16 autocast row skipped: this CPU has no native bfloat16 "
              "arithmetic (neither AMX nor AVX512-BF16), bfloat16 would be emulated")
    else:
        name = "nn.LSTM bf16 autocast"
        runners[name], info[name] = bench.autocast_runner(**HEADLINE)
        info[name]["hardware"] = hw
        print(f"{name}: {hw}; largest error against float32 "
              f"{info[name]['max_error']:.1e} (relative to the largest entry)")
    if args.compile:
        name = "autograd_loop compiled"
        print("compiling the autograd loop with torch.compile (minutes)...",
              flush=True)
        runners[name], info[name] = bench.compiled_loop_runner(**HEADLINE)
        print(f"{name}: compiled in {info[name]['compile_seconds']:.0f} s; largest "
              f"error against the eager loop {info[name]['max_error']:.1e}")
    return runners, info


def report(size, medians, peak):
    flops = bench.lstm_flops(**size)
    ref = medians["nn.LSTM"]
    print(f"\nT={size['T']} B={size['B']} I={size['I']} H={size['H']}")
    print(f"  {'implementation':22s} {'median ms':>10s} {'x nn.LSTM':>10s} "
          f"{'GFLOP/s':>8s} {'of peak':>8s}")
    rows = {}
    for name, sec in medians.items():
        rows[name] = {"seconds": sec, "ratio": sec / ref, "gflops": flops / sec / 1e9,
                      "fraction_of_peak": flops / sec / peak}
        r = rows[name]
        print(f"  {name:22s} {sec * 1e3:10.2f} {r['ratio']:10.2f} {r['gflops']:8.1f} "
              f"{r['fraction_of_peak']:8.1%}")
    return rows


def peak_memory(name, size, device):
    """Peak extra memory (bytes) of one forward + backward, in a fresh process.

    CPU: the process's peak resident set is reset after set-up (Linux clear_refs),
    so the reading is the high-water mark of the run minus the memory before it.
    CUDA: torch's own peak-allocation statistics.
    """
    code = f"""
import torch, json
from lstm_core import bench
run = bench.make_runner({name!r}, **{size!r}, device={device!r})
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
if torch.device({device!r}).type == "cuda":
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    run()
    peak = torch.cuda.max_memory_allocated()
else:
    open("/proc/self/clear_refs", "w").write("5")
    base = status("VmRSS:")
    run()
    peak = status("VmHWM:")
print(json.dumps(peak - base))
"""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True)
    return int(out.stdout.strip().splitlines()[-1])


def check_targets(headline, grid, memory, device):
    """The speed chapter's targets; returns a list of (description, ok)."""
    checks = []
    if device == "cpu":
        r = {n: v["ratio"] for n, v in headline.items()}
        checks += [("torch_lstm without peepholes <= 1.1x nn.LSTM", r["torch_lstm"] <= 1.1),
                   ("torch_lstm with peepholes <= 1.5x nn.LSTM",
                    r["torch_lstm_peepholes"] <= 1.5),
                   ("NumPy reference <= 4x nn.LSTM", r["numpy"] <= 4.0)]
        big = [g for g in grid if g["size"]["H"] >= 128]
        faster = [g["rows"]["torch_lstm_peepholes"]["seconds"]
                  < g["rows"]["numpy"]["seconds"] for g in big]
        if grid:
            checks.append(("peepholes faster than NumPy wherever H >= 128", all(faster)))
            checks.append(("peepholes <= 2.5x nn.LSTM wherever H >= 128",
                           all(g["rows"]["torch_lstm_peepholes"]["ratio"] <= 2.5
                               for g in big)))
    else:
        big = [g for g in grid if g["size"] == {"T": 1000, "B": 32, "I": 8, "H": 512}]
        if big:
            checks.append(("CUDA peepholes <= 3x cuDNN at H=512, B=32, T=1000",
                           big[0]["rows"]["torch_lstm_peepholes"]["ratio"] <= 3.0))
    if memory:
        checks.append(("peak memory of peepholes at T=1000 within 2x of nn.LSTM",
                       memory["torch_lstm_peepholes"] <= 2 * memory["nn.LSTM"]))
    return checks


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quick", action="store_true", help="headline size only")
    ap.add_argument("--repeats", type=int, default=9,
                    help="rounds per grid size (the headline gets 3x, the largest "
                         "sizes 5)")
    ap.add_argument("--threads", default="1,2",
                    help="thread counts at which the headline size is also timed")
    ap.add_argument("--compile", action="store_true",
                    help="add the torch.compile'd autograd loop (compiles for minutes)")
    ap.add_argument("--save", help="write the results to this JSON file")
    args = ap.parse_args()
    thread_counts = [int(t) for t in args.threads.split(",") if t]
    torch.manual_seed(0)
    names = [n for n in bench.IMPLEMENTATIONS if n != "numpy" or args.device == "cpu"]
    peak = bench.matmul_peak(args.device)
    name = (torch.cuda.get_device_name() if args.device != "cpu"
            else platform.processor() or platform.machine())
    print(f"device {args.device} ({name}), torch {torch.__version__}, "
          f"threads {torch.get_num_threads()} (NumPy's BLAS "
          f"{os.environ['OPENBLAS_NUM_THREADS']}), float32, "
          f"matmul peak {peak / 1e9:.0f} GFLOP/s")
    start = time.time()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    extra, extra_info = extra_rows(args)
    headline = report(HEADLINE, measure(HEADLINE, names, args.device,
                                        3 * args.repeats, extra), peak)
    default_threads = torch.get_num_threads()
    by_threads = {}
    for n in thread_counts:
        torch.set_num_threads(n)
        print(f"\n{n} thread(s):", end="")
        by_threads[str(n)] = report(HEADLINE, measure(HEADLINE, names, args.device,
                                                      3 * args.repeats, extra), peak)
    torch.set_num_threads(default_threads)
    for name, info in extra_info.items():
        if "compile_seconds" in info:
            print(f"\n{name}: compile {info['compile_seconds']:.0f} s, then "
                  f"{headline[name]['seconds'] * 1e3:.1f} ms per run")
    grid, memory = [], {}
    if not args.quick:
        for size in GRID:
            reps = 5 if size["T"] * size["H"] >= 512_000 else args.repeats
            grid.append({"size": size, "rows": report(
                size, measure(size, names, args.device, reps), peak)})
        mem_size = {"T": 1000, "B": 32, "I": 8, "H": 128}
        print(f"\npeak extra memory of forward + backward at {mem_size}, "
              "each in its own process:")
        memory = {name: peak_memory(name, mem_size, args.device) for name in names}
        for name, size in memory.items():
            print(f"  {name:22s} {size / 2**20:8.1f} MiB "
                  f"({size / memory['nn.LSTM']:.2f}x nn.LSTM)")
    print("\ntargets:")
    checks = check_targets(headline, grid, memory, args.device)
    for text, ok in checks:
        print(f"  [{'ok' if ok else 'MISSED'}] {text}")
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(f"\n({time.time() - start:.0f} s; load average {load} before, "
          f"{load_after} after)")
    if args.save:
        result = {"command": " ".join(["python"] + sys.argv), "device": args.device,
                  "torch": torch.__version__, "threads": torch.get_num_threads(),
                  "numpy_blas_threads": os.environ["OPENBLAS_NUM_THREADS"],
                  "machine": platform.machine(), "matmul_peak_flops": peak,
                  "headline": {"size": HEADLINE, "rows": headline},
                  "headline_by_threads": by_threads, "extra_rows": extra_info,
                  "load_average": [load, load_after], "grid": grid,
                  "peak_memory_bytes": memory,
                  "targets": [{"target": t, "ok": ok} for t, ok in checks]}
        from lstm_core.io import atomic_write
        atomic_write(args.save, json.dumps(result, indent=1))   # never half-written
        print(f"saved {args.save}")


if __name__ == "__main__":
    main()

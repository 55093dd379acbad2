"""Where the peephole kernel's time goes: matrix products against the fused loop.

    python benchmarks/profile_kernel.py                 # headline size, 1 and 2 threads
    python benchmarks/profile_kernel.py --save benchmarks/results/profile.json

Runs forward + backward of the C++ kernel (lstm_core/peephole_cpu.cpp) with its
timing slots on, at T=100, B=32, I=8, H=128 (float32), for one and two torch
threads and for one block of hidden units (the products use torch's threads, the
elementwise loop one) against the kernel's own choice (blocks of units, one
parallel region per step), interleaved with torch.nn.LSTM. Reports per call, in
milliseconds (means over the runs, so that the parts add up): the input product,
the recurrent products (forward and backward),
the fused elementwise loops, the weight gradients after the loop, and the rest.
Product and loop times are summed over the threads of a parallel region, so they
are divided by the threads that ran them (the region's wall time).
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch

from lstm_core import bench, cpu_kernel
from lstm_core.torch_lstm import LSTM

SIZE = {"T": 100, "B": 32, "I": 8, "H": 128}


def kernel_runner(kernel, size, chunks, seed=0):
    """(run, slots): run() does forward + backward, adding seconds into slots (8,)."""
    torch.manual_seed(seed)
    T, B, I, H = (size[k] for k in "TBIH")
    m = LSTM(I, H, peepholes=True)
    X = torch.randn(T, B, I)
    z = X.new_zeros(B, H)
    w = [p.detach() for p in (m.w_ci, m.w_cf, m.w_co)]
    W_ih, W_hh = m.W_ih.detach(), m.W_hh.detach()
    b = (m.b_ih + m.b_hh).detach()
    dH = torch.ones(T, B, H)
    slots = torch.zeros(8, dtype=torch.float64)

    def run():
        Hs, C, gates, tanh_C = kernel.forward(X, z, z, W_ih, W_hh, b, *w,
                                              chunks=chunks, timing=slots)
        kernel.backward(dH, z, z, X, z, z, W_ih, W_hh, *w, gates, Hs, C, tanh_C,
                        False, chunks=chunks, timing=slots)
    return run, slots


def blocks_chosen(size):
    """The kernel's own block count at this size (peephole_cpu.cpp, `blocks`)."""
    B, H = size["B"], size["H"]
    return max(1, H // 64) if B * 4 * H * H >= 1 << 19 else 1


def profile(kernel, size, threads, repeats):
    torch.set_num_threads(threads)
    auto = blocks_chosen(size)
    configs = {"one block": 1, f"{auto} blocks (auto)": 0} if auto > 1 else \
        {"one block (auto)": 0}
    runners, slots = {}, {}
    for name, chunks in configs.items():
        runners[name], slots[name] = kernel_runner(kernel, size, chunks)
    runners["nn.LSTM"] = bench.make_runner("nn.LSTM", **size)
    runners["nn.LSTM forward"] = _nn_forward(size)
    for run in runners.values():                  # warm-up, not in the slots
        run()
    for s in slots.values():
        s.zero_()
    times = bench.time_interleaved(runners, repeats=repeats, warmup=0)
    out = {}
    for name, chunks in configs.items():
        n_blocks = auto if chunks == 0 else chunks
        region = min(threads, n_blocks)        # threads that share the loop's work
        s = slots[name].numpy() / (repeats * (bench.TIMER_WARMUP + 1))  # runs
        parts = {"input product": s[0], "recurrent products": (s[1] + s[4]) / region,
                 "fused elementwise loop": (s[2] + s[5]) / region,
                 "weight gradients": s[7]}
        total = float(np.mean(times[name]))      # the slots are means, too
        parts["rest (loop overhead, copies, reorders)"] = total - sum(parts.values())
        out[name] = {"seconds": total, "parts": {k: float(v) for k, v in parts.items()}}
    for name in ("nn.LSTM", "nn.LSTM forward"):
        out[name] = {"seconds": float(np.mean(times[name]))}
    return out


def _nn_forward(size):
    torch.manual_seed(0)
    m = torch.nn.LSTM(size["I"], size["H"])
    X = torch.randn(size["T"], size["B"], size["I"])

    def run():
        with torch.no_grad():
            m(X)
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--save", help="write the results to this JSON file")
    args = ap.parse_args()
    kernel = cpu_kernel.load()
    if kernel is None:
        sys.exit("the C++ kernel is not available here (see the warning)")
    print(f"kernel {kernel.info()}, torch {torch.__version__}, size {SIZE}")
    start = time.time()
    result = {"size": SIZE, "torch": torch.__version__, "kernel": kernel.info(),
              "machine": platform.machine(), "load_before": os.getloadavg()[0],
              "threads": {}}
    for threads in (1, 2):
        res = profile(kernel, SIZE, threads, args.repeats)
        result["threads"][str(threads)] = res
        print(f"\n{threads} thread(s), ms per forward + backward:")
        for name, r in res.items():
            print(f"  {name:24s} {r['seconds'] * 1e3:8.2f}")
            for part, sec in r.get("parts", {}).items():
                print(f"      {part:38s} {sec * 1e3:7.2f}")
    result["load_after"] = os.getloadavg()[0]
    print(f"\n({time.time() - start:.0f} s; load average {result['load_before']:.1f} "
          f"before, {result['load_after']:.1f} after)")
    if args.save:
        from lstm_core.io import atomic_write
        atomic_write(args.save, json.dumps(result, indent=1))
        print(f"saved {args.save}")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: the CUDA tests, then the benchmark on the GPU,
# saved to benchmarks/results/cuda.json (commit it; the speed chapter plots it).
# Within 5 minutes on a recent GPU (the tests take about a minute, the benchmark
# about two). Run from the repository root after `make venv`:
#
#     benchmarks/gpu_check.sh              # the real run (needs CUDA)
#     benchmarks/gpu_check.sh --device cpu # dry run on the CPU: same steps, the
#                                          # CUDA tests skip, a quick benchmark
#                                          # saved to a temporary file
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DEVICE=cuda
if [[ "${1:-}" == "--device" ]]; then DEVICE=${2:?"--device needs cpu or cuda"}; fi
case "$DEVICE" in cpu|cuda) ;; *) echo "--device must be cpu or cuda, got $DEVICE" >&2
  exit 2;; esac
LIMIT=${GPU_CHECK_LIMIT_S:-300}
start=$SECONDS
if [[ "$DEVICE" == cuda ]]; then
  "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else
    'no CUDA device visible to torch ' + torch.__version__ + ' (a CPU-only wheel?)')"
  "$PY" -c "import torch; print('GPU:', torch.cuda.get_device_name(),
    '| torch', torch.__version__, '| cuDNN', torch.backends.cudnn.version())"
  OUT=benchmarks/results/cuda.json
  BENCH=(--device cuda --save "$OUT")
else
  OUT=$(mktemp -d)/cpu_dry_run.json
  BENCH=(--device cpu --quick --repeats 1 --threads "" --save "$OUT")
fi
# The tests that exercise CUDA (they skip without a GPU): parity of both paths
# on the GPU, flattened cuDNN weights, the kernel's CPU tests beside them.
timeout $((LIMIT / 2)) "$PY" -m pytest -q -p no:cacheprovider \
  tests/test_torch_lstm.py tests/test_torch_variants.py tests/test_bench.py \
  -k "cuda or flat or state_dict or runner" -rs
timeout $((LIMIT - (SECONDS - start))) "$PY" benchmarks/bench_lstm.py "${BENCH[@]}"
"$PY" -c "import json, sys; d = json.load(open(sys.argv[1]));
assert d['device'] == sys.argv[2], d['device']; print('saved', sys.argv[1],
  'with', len(d['grid']), 'grid sizes')" "$OUT" "$DEVICE"
echo "gpu_check: done in $((SECONDS - start)) s (limit $LIMIT s)"
if [[ "$DEVICE" == cuda ]]; then echo "now: git add $OUT && git commit"; fi

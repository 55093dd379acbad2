#!/usr/bin/env bash
# One-off check before committing a notebook: `make nbval` under other numeric
# paths than this machine's default (OpenBLAS kernels, torch's CPU dispatch,
# MKL and oneDNN instruction sets, thread counts, the pure-PyTorch peephole
# path, no C++ compiler). Never part of `make test` or CI: it takes about ten
# times as long as one nbval run. Usage:
#   tools/nbval_variations.sh [name ...]      (default: every variation)
# Writes one log per variation to _build/nbval_variations/ and a summary line
# per variation to stdout; exits non-zero if any variation failed.
set -u
cd "$(dirname "$0")/.."
out=_build/nbval_variations
mkdir -p "$out"

# A PATH without a C++ compiler: every directory of PATH, minus c++, g++ and
# cc-style compilers, through a folder of symlinks to everything else.
nocxx_path() {
  local dir=$out/nocxx-bin
  rm -rf "$dir" && mkdir -p "$dir"
  local IFS=:
  for d in $PATH; do
    [ -d "$d" ] || continue
    for f in "$d"/*; do
      local b=${f##*/}
      case $b in c++|g++|g++-*|gcc|gcc-*|cc|clang|clang++|clang-*|x86_64-linux-gnu-*|aarch64-linux-gnu-*) continue;; esac
      [ -e "$dir/$b" ] || ln -s "$f" "$dir/$b" 2>/dev/null
    done
  done
  echo "$PWD/$dir"
}

declare -A VARIATION=(
  [unset-openblas]="env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE"
  [openblas-haswell]="env OPENBLAS_CORETYPE=Haswell"
  [aten-avx2]="env ATEN_CPU_CAPABILITY=avx2"
  [aten-default]="env ATEN_CPU_CAPABILITY=default"
  [mkl-avx2]="env MKL_ENABLE_INSTRUCTIONS=AVX2"
  [onednn-avx2]="env ONEDNN_MAX_CPU_ISA=AVX2"
  [threads-1]="env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1"
  [threads-2]="env OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=2"
  [pure-torch]="env LSTM_CORE_PURE_TORCH=1"
  [no-compiler]="nocxx"
)
ORDER=(unset-openblas openblas-haswell aten-avx2 aten-default mkl-avx2 onednn-avx2
       threads-1 threads-2 pure-torch no-compiler)
[ $# -gt 0 ] && ORDER=("$@")

status=0
for name in "${ORDER[@]}"; do
  cmd=${VARIATION[$name]:?unknown variation $name}
  log=$out/$name.log
  start=$(date +%s)
  if [ "$cmd" = nocxx ]; then
    # A fresh kernel cache too, so the build is really attempted (and fails).
    PATH=$(nocxx_path) TORCH_EXTENSIONS_DIR=$out/nocxx-ext make nbval >"$log" 2>&1
  else
    $cmd make nbval >"$log" 2>&1
  fi
  rc=$?
  summary=$(grep -E "^(FAILED|[0-9]+ (passed|failed))|passed|failed" "$log" | tail -1)
  echo "$name: rc=$rc in $(( $(date +%s) - start )) s: $summary"
  [ $rc -eq 0 ] || status=1
done
exit $status

#!/usr/bin/env bash
# The ASan + UBSan job: builds racc, rarun, the unit tests and the fuzz
# replays in build-asan/ with both sanitizers (any report is fatal), then
# runs the unit tests, replays every fuzz corpus, and compiles, trains and
# decodes a tiny model whose generated kernels are instrumented too
# (RACC_CXXFLAGS).
# -O1, as the sanitizers' authors advise: reports keep their lines, and the
# build takes half the time of -O3.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=build-asan
TARGETS=(racc rarun racc-unit-tests)
FUZZ=(graph safetensors manifest tokens text bpe ranks tokenized npy study prompts)
for t in "${FUZZ[@]}"; do TARGETS+=("racc-fuzz-replay-$t"); done
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -G Ninja -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-16 -DCMAKE_CXX_COMPILER=clang++-16 \
    -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld \
    -DMLIR_DIR=/usr/lib/llvm-16/lib/cmake/mlir -DRACC_SANITIZE=ON \
    -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG" -DCMAKE_C_FLAGS_RELEASE="-O1 -DNDEBUG" >/dev/null
fi
cmake --build "$BUILD_DIR" --target "${TARGETS[@]}"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
BIN=$BUILD_DIR/bin
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "sanitize: unit tests"
# One OpenMP thread: fewer threads for the leak checker to stop (its tracer has
# crashed at exit on a loaded machine with a full pool).
OMP_NUM_THREADS=1 "$BIN"/racc-unit-tests
echo "sanitize: fuzz replays"
for t in "${FUZZ[@]}"; do
  dirs=(test/fuzz/$t/corpus)
  [ -d test/fuzz/$t/regressions ] && dirs+=(test/fuzz/$t/regressions)
  "$BIN"/racc-fuzz-replay-$t "${dirs[@]}" 2>/dev/null
done
echo "sanitize: a tiny model compiled with instrumented kernels, trained 30 steps"
RACC_CXXFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -g" \
  "$BIN"/racc compile models/gpt2_mla_ra.graph -D n_layer=1 -D d_model=32 -D n_head=2 \
  -D vocab=256 -D ctx=16 -D batch=2 -D seq=16 -D latent=8 -D band=4 --target cpu \
  --block-positions 4 --cache-dtype f16 -o "$WORK/tiny.rac"
# One OpenMP thread with leak checking (LeakSanitizer's tracer crashes on
# libomp's worker threads at exit); then two threads, the race-prone kernels
# under ASan, without it; then a resume from the 20-step checkpoint.
OMP_NUM_THREADS=1 "$BIN"/rarun train "$WORK/tiny.rac" --steps 30 --ckpt-every 10 --out "$WORK/run"
OMP_NUM_THREADS=2 ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
  "$BIN"/rarun train "$WORK/tiny.rac" --steps 20 --eval-every 10 --out "$WORK/run2"
OMP_NUM_THREADS=1 "$BIN"/rarun train "$WORK/tiny.rac" --steps 30 --out "$WORK/run3" \
  --resume "$WORK/run/ckpt/step_20.safetensors"
OMP_NUM_THREADS=1 "$BIN"/rarun eval "$WORK/tiny.rac" --ckpt "$WORK/run/ckpt/step_30.safetensors"
OMP_NUM_THREADS=1 "$BIN"/rarun inspect "$WORK/run/ckpt/step_30.safetensors" > /dev/null
echo "sanitize: cached decoding (@prefill, @decode; paged f16 caches) against the forward, and generate"
OMP_NUM_THREADS=1 "$BIN"/rarun decode-check "$WORK/tiny.rac"
OMP_NUM_THREADS=2 ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 "$BIN"/rarun generate \
  "$WORK/tiny.rac" --ckpt "$WORK/run/ckpt/step_30.safetensors" --prompt ab --tokens 20 > /dev/null
echo "sanitize: ok"

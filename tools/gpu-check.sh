#!/usr/bin/env bash
# The GPU check: racc's CUDA build on a real GPU, in one command, within 8
# minutes on an H200. See docs/cuda.md.
#
#   tools/gpu-check.sh prepare [DIR]   here (Debian, our toolchain, nvcc, no GPU):
#                                      build; compile the check's models with
#                                      --target cuda; CPU reference runs; a
#                                      bundle of rarun, its libraries and the
#                                      corpus in DIR (default gpu-check/)
#   tools/gpu-check.sh run [DIR]       on the GPU machine (the bundle and this
#                                      repository; no MLIR or clang needed):
#     1. the tiny GPT-2 and the all-mechanisms variant (each float32 and
#        --precision bf16) train 5 steps on the GPU with the CPU build's
#        losses (within 1e-4 relative; every kernel
#        family, forward, backward and AdamW); once more with --sync-kernels;
#        a CPU checkpoint resumed on the GPU ends where the CPU run ended;
#        cached decoding (@prefill, @decode) equals the forward at every position
#     2. GPT-2 124M and its MLA+RA variant (batch 8 x 1024): rarun bench
#        --device cuda: ms/step, tokens/s, MFU against the bf16 cuBLAS GEMM
#        peak measured in the same run (and the float32 GEMM rate), fused vs
#        unfused (speed, peak memory, outputs), GPT-2 124M with bf16 GEMMs
#        (--precision bf16) against float32, and its step replayed as a CUDA
#        graph against launching each kernel (RA_CUDA_GRAPHS=0)
#     3. PyTorch on the same config and device, when python3 has CUDA torch:
#        eager float32, and bf16 autocast eager and torch.compile against
#        racc's --precision bf16 build
#     4. compute-sanitizer memcheck and racecheck on one step of the tiny
#        GPT-2, where the machine has compute-sanitizer
#   tools/gpu-check.sh [DIR]           both, on a machine that has both
#
# Every stage runs whatever an earlier one did: each runs in its own subshell
# with errexit (it fails at its first failing command, or when any of its
# checks fails), and DIR/results/summary.txt and stages.json record each as
# passed, failed (with its first error lines) or skipped (with why), beside
# each stage's log and the benchmarks' JSON (copied to $OUT/ where set). The
# exit status is 1 when a stage failed.
#
# GPU_CHECK_QUICK=1: the tiny GPT-2 alone in stage 1, GPT-2 124M alone with
# fewer steps in stage 2, no stage 3 (within 3 minutes on an H200).
# GPU_CHECK_DEVICE=cuda-emu rehearses both phases here on the emulator, the
# tiny models standing in for the 124M ones. GPU_CHECK_BIN=DIR takes racc and
# rarun from DIR instead of building. GPU_CHECK_PLANT=1 plants a failure in
# stage 1 (a missing reference), to show that it hides no later stage.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mode=all
case "${1:-}" in prepare | run) mode="$1"; shift ;; esac
dir="$(mkdir -p "${1:-gpu-check}" && cd "${1:-gpu-check}" && pwd)"
tiny="-D n_layer=2 -D d_model=64 -D n_head=4 -D vocab=256 -D ctx=64 -D batch=4 -D seq=64"
variant="-D latent=16 -D band=16"
train="--steps 5 --lr 3e-3 --seed 0 --eval-every 0 --eval-batches 2"
device="${GPU_CHECK_DEVICE:-cuda}"
quick="${GPU_CHECK_QUICK:-0}"
if [ "$device" != cuda ]; then # the emulator runs a rehearsal's models at about 100 tokens/s
  tiny="-D n_layer=2 -D d_model=32 -D n_head=2 -D vocab=256 -D ctx=16 -D batch=2 -D seq=16"
  variant="-D latent=8 -D band=4"
fi
bundle_limit_mib=60 # the device tool carries 64 MiB

prepare() (
  set -e
  bin="${GPU_CHECK_BIN:-}"
  if [ -z "$bin" ]; then
    "$root/scripts/build.sh" > "$dir/build.log" 2>&1 || { tail -20 "$dir/build.log"; exit 1; }
    bin="$root/build/bin"
  fi
  racc="$bin/racc" rarun="$bin/rarun"
  rm -rf "${dir:?}/lib" "$dir/art" "$dir/bundle.tar.xz"
  mkdir -p "$dir/bin" "$dir/lib" "$dir/art" "$dir/ref"
  cp "$rarun" "$dir/bin/"
  # rarun's libraries that a CUDA image may lack (not glibc or libstdc++).
  ldd "$rarun" | awk '/=>/ {print $3}' | grep -Ev 'libc\.so|libm\.so|libstdc\+\+|libgcc_s|ld-linux' |
    xargs -r -I{} cp -L {} "$dir/lib/"
  rm -rf "$dir/corpus" && cp -r /usr/share/games/fortunes "$dir/corpus"
  echo "== compiling (racc --target all: the CPU reference and the CUDA library)"
  "$racc" compile "$root/models/gpt2.graph" $tiny --target all -o "$dir/art/tiny.rac"
  "$racc" compile "$root/models/gpt2_mla_ra_all.graph" $tiny $variant --target all \
    -o "$dir/art/all.rac"
  "$racc" compile "$root/models/gpt2.graph" $tiny --target all --precision bf16 \
    -o "$dir/art/tiny_bf16.rac"
  # Every mechanism in bf16: RA, MLA, the gates and head-mean attention on
  # tensor cores, and the backward's GEMM epilogues.
  "$racc" compile "$root/models/gpt2_mla_ra_all.graph" $tiny $variant --target all \
    --precision bf16 -o "$dir/art/all_bf16.rac"
  "$racc" compile "$root/models/gpt2.graph" $tiny --target all --no-fuse \
    -o "$dir/art/tiny_unfused.rac"
  "$racc" compile "$root/models/gpt2_mla_ra_all.graph" $tiny $variant --target all --no-fuse \
    -o "$dir/art/all_unfused.rac"
  # The 124M configurations (the models' defaults: MLA latent 128, RA band
  # 64), for a GPU only: a rehearsal benchmarks the tiny models.
  if [ "$device" = cuda ]; then
    for m in gpt2 gpt2_mla_ra; do
      "$racc" compile "$root/models/$m.graph" --target cuda -o "$dir/art/${m}_124m.rac"
      "$racc" compile "$root/models/$m.graph" --target cuda --no-fuse \
        -o "$dir/art/${m}_124m_unfused.rac"
    done
    "$racc" compile "$root/models/gpt2.graph" --target cuda --precision bf16 \
      -o "$dir/art/gpt2_124m_bf16.rac"
  fi
  echo "== CPU reference runs"
  for m in tiny all tiny_bf16 all_bf16; do
    "$rarun" train "$dir/art/$m.rac" --data "$dir/corpus" $train --ckpt-every 2 \
      --out "$dir/ref/$m" > /dev/null
  done
  # The GPU needs no CPU libraries, sources or IR (rarun loads and checks
  # the library alone), and the bundle must stay small: one checkpoint, for
  # the resume check. A 124M artifact keeps about 4 MiB of its 10.
  rm -rf "$dir"/art/*/cpu "$dir"/art/*/ir
  rm -f "$dir"/art/*/cuda/*.cu "$dir"/art/*/cuda/*.cuh "$dir"/art/*/cuda/*.h
  if [ "$device" = cuda ]; then rm -f "$dir"/art/*/cuda/model_emu.so; fi
  find "$dir/ref" -name '*.safetensors' ! -path '*/tiny/ckpt/step_2.safetensors' -delete
  # rarun's libraries (ICU's data, OpenBLAS) and the artifacts' fat CUDA
  # libraries are most of the bundle: xz takes the libraries from about 80
  # MiB to 16 (22 at -1, in seconds: a rehearsal's) and a CUDA library to a
  # fifth; run unpacks them.
  XZ_OPT="-T0 -$([ "$device" = cuda ] && echo 6 || echo 1)" tar -cJf "$dir/bundle.tar.xz" \
    -C "$dir" lib art
  rm -rf "${dir:?}/lib" "$dir/art"
  mib=$(du -sm --exclude=build.log --exclude=results "$dir" | cut -f1)
  echo "bundle: $mib MiB (at most $bundle_limit_mib)"
  if [ "$mib" -gt "$bundle_limit_mib" ]; then
    echo "gpu-check: the bundle is over $bundle_limit_mib MiB"
    exit 1
  fi
)

# A stage prints what it checks and returns 0 (passed), 77 (skipped: its
# last line says why) or anything else (failed). `check LABEL CMD...` runs
# one check, prints LABEL and the command's last line (its last lines too
# when it fails) and counts a failure without stopping the stage.
check() {
  local label="$1" out rc
  shift
  out=$("$@" 2>&1) && rc=0 || rc=$? # not errexit's to see
  echo "$label: $(echo "$out" | tail -1)"
  if [ $rc -ne 0 ]; then
    echo "$out" | tail -5 | sed 's/^/    /'
    failures=$((failures + 1))
  fi
  return 0
}
devices() { "$py" "$root/test/runtime/check_devices.py" "$@"; }

stage_correctness() {
  local models=(tiny all tiny_bf16 all_bf16) m ref
  if [ "$quick" = 1 ]; then models=(tiny); fi
  for m in "${models[@]}"; do
    ref="$dir/ref/$m/metrics.jsonl"
    if [ "${GPU_CHECK_PLANT:-0}" = 1 ] && [ "$m" = tiny ]; then ref="$dir/ref/planted/metrics.jsonl"; fi
    "$rarun" train "$dir/art/$m.rac" --device "$device" --data "$dir/corpus" $train \
      --out "$dir/results/$m" > "$dir/results/$m.log" 2>&1
    check "$m, 5 steps against the CPU build" devices "$ref" "$dir/results/$m/metrics.jsonl" \
      --tolerance 1e-4
  done
  "$rarun" train "$dir/art/tiny.rac" --device "$device" --sync-kernels --data "$dir/corpus" \
    $train --out "$dir/results/tiny-sync" > /dev/null 2>&1
  check "tiny, --sync-kernels" devices "$dir/ref/tiny/metrics.jsonl" \
    "$dir/results/tiny-sync/metrics.jsonl" --tolerance 1e-4
  "$rarun" train "$dir/art/tiny.rac" --device "$device" --data "$dir/corpus" $train \
    --resume "$dir/ref/tiny/ckpt/step_2.safetensors" --out "$dir/results/tiny-resumed" \
    > /dev/null 2>&1
  check "tiny, a CPU checkpoint resumed on the device" devices "$dir/ref/tiny/metrics.jsonl" \
    "$dir/results/tiny-resumed/metrics.jsonl" --tolerance 1e-4 --from-step 3
  for m in "${models[@]}"; do
    check "$m, cached decoding against the forward" "$rarun" decode-check "$dir/art/$m.rac" \
      --device "$device"
  done
  [ "$failures" -eq 0 ]
}

stage_bench() {
  local bigs=(gpt2_124m gpt2_mla_ra_124m) big steps=5
  if [ "$quick" = 1 ]; then bigs=(gpt2_124m) steps=2; fi
  for big in "${bigs[@]}"; do
    if [ "$device" != cuda ]; then # a rehearsal, on the tiny models
      if [ "$big" = gpt2_124m ]; then big=tiny; else big=all; fi
    fi
    echo "-- $big"
    "$rarun" bench "$dir/art/$big.rac" --device "$device" --steps $steps --warmup 1 \
      --vs "$dir/art/${big}_unfused.rac" --json > "$dir/results/bench_$big.json"
    "$py" "$root/tools/gpu_check_report.py" "$dir/results/bench_$big.json"
    if [ "$quick" != 1 ] && { [ "$big" = gpt2_124m ] || [ "$big" = tiny ]; }; then
      # bf16 GEMMs (--precision bf16) against the float32 build, fused both.
      "$rarun" bench "$dir/art/${big}_bf16.rac" --device "$device" --steps $steps --warmup 1 \
        --vs "$dir/art/$big.rac" --json > "$dir/results/bench_${big}_bf16.json"
      "$py" "$root/tools/gpu_check_report.py" "$dir/results/bench_${big}_bf16.json"
    fi
    if [ "$quick" != 1 ] && [ "$big" != all ] && [ "$big" != gpt2_mla_ra_124m ]; then
      # What replaying the step as a CUDA graph saves: the fused build again,
      # launching every kernel itself.
      RA_CUDA_GRAPHS=0 "$rarun" bench "$dir/art/$big.rac" --device "$device" --steps $steps \
        --warmup 1 --json > "$dir/results/bench_${big}_eager.json"
      "$py" "$root/tools/gpu_check_report.py" "$dir/results/bench_$big.json" \
        --eager "$dir/results/bench_${big}_eager.json"
    fi
  done
}

stage_torch() {
  if [ "$quick" = 1 ]; then
    echo "quick mode"
    return 77
  fi
  if [ "$device" != cuda ] || ! "$py" -c "import torch; assert torch.cuda.is_available()" 2> /dev/null; then
    echo "python3 has no CUDA torch here"
    return 77
  fi
  local gpt2=(--n_layer 12 --d_model 768 --n_head 12 --vocab 50257 --ctx 1024 --batch 8
    --seq 1024 --steps 10 --device "$device")
  "$py" "$root/bench/torch_train_step.py" "${gpt2[@]}" > "$dir/results/torch_124m.json"
  cat "$dir/results/torch_124m.json"
  "$py" "$root/tools/gpu_check_report.py" "$dir/results/bench_gpt2_124m.json" \
    --torch "$dir/results/torch_124m.json"
  # bf16: autocast eager and torch.compile against racc --precision bf16.
  for mode in eager compile; do
    "$py" "$root/bench/torch_train_step.py" "${gpt2[@]}" --bf16 \
      $([ $mode = compile ] && echo --compile) > "$dir/results/torch_124m_bf16_$mode.json"
    cat "$dir/results/torch_124m_bf16_$mode.json"
    "$py" "$root/tools/gpu_check_report.py" "$dir/results/bench_gpt2_124m_bf16.json" \
      --torch "$dir/results/torch_124m_bf16_$mode.json"
  done
}

stage_sanitizer() {
  local cs tool
  cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  if [ "$device" != cuda ]; then
    echo "the emulator: compute-sanitizer needs a GPU"
    return 77
  fi
  if [ ! -x "$cs" ]; then
    echo "no compute-sanitizer on this machine"
    return 77
  fi
  for tool in memcheck racecheck; do
    check "compute-sanitizer --tool $tool, one step of the tiny GPT-2" "$cs" --tool $tool \
      --error-exitcode 1 "$rarun" train "$dir/art/tiny.rac" --device cuda --data "$dir/corpus" \
      --steps 1 --eval-every 0 --out "$dir/results/sanitizer-$tool"
  done
  [ "$failures" -eq 0 ]
}

# run_stage NUMBER TITLE FUNCTION: the stage in a subshell with errexit, its
# output to the terminal, its log and the summary; its status recorded.
run_stage() {
  local number="$1" title="$2" fn="$3" log="$dir/results/stage$1.log" start=$SECONDS rc status
  echo "== $number. $title" | tee -a "$summary"
  (
    set -e
    failures=0
    "$fn"
  ) 2>&1 | tee "$log" | tee -a "$summary"
  rc=${PIPESTATUS[0]}
  case $rc in
  0) status=passed ;;
  77) status=skipped ;;
  *) status=failed ;;
  esac
  echo "-- stage $number: $status ($((SECONDS - start)) s)" | tee -a "$summary"
  printf '%s\t%s\t%s\t%s\t%s\n' "$number" "$title" "$status" "$((SECONDS - start))" "$log" \
    >> "$dir/results/stages.tsv"
}

run() {
  mkdir -p "$dir/results"
  rarun="$dir/bin/rarun" summary="$dir/results/summary.txt" py=python3
  if [ ! -d "$dir/art" ] && [ -f "$dir/bundle.tar.xz" ]; then tar -xJf "$dir/bundle.tar.xz" -C "$dir"; fi
  export LD_LIBRARY_PATH="$dir/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  : > "$summary"
  : > "$dir/results/stages.tsv"
  echo "gpu-check on $device$([ "$quick" = 1 ] && echo ', quick')" | tee -a "$summary"
  if [ "$device" = cuda ]; then nvidia-smi -L 2>&1 | tee -a "$summary"; fi
  run_stage 1 "correctness on the device against the CPU build" stage_correctness
  run_stage 2 "training step speed, fused vs unfused, rarun bench --device $device" stage_bench
  run_stage 3 "PyTorch on the same config and GPU: eager float32, bf16 eager and compiled" stage_torch
  run_stage 4 "compute-sanitizer memcheck and racecheck" stage_sanitizer
  "$py" "$root/tools/gpu_check_report.py" --stages "$dir/results/stages.tsv" \
    "$dir/results/stages.json" | tee -a "$summary"
  if [ -n "${OUT:-}" ]; then
    cp "$dir"/results/*.json "$dir"/results/*.log "$summary" "$OUT/" 2> /dev/null || true
  fi
  ! cut -f3 "$dir/results/stages.tsv" | grep -qx failed
}

case "$mode" in
prepare) prepare ;;
run) run ;;
all) prepare && run ;;
esac

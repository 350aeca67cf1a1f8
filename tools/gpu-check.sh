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
#     1. the tiny GPT-2 and the all-mechanisms variant train 5 steps on the GPU
#        with the CPU build's losses (within 1e-4 relative; every kernel
#        family, forward, backward and AdamW); once more with --sync-kernels;
#        a CPU checkpoint resumed on the GPU ends where the CPU run ended;
#        cached decoding (@prefill, @decode) equals the forward at every position
#     2. GPT-2 124M and its MLA+RA variant (batch 8 x 1024): rarun bench
#        --device cuda: ms/step, tokens/s, MFU against the bf16 cuBLAS GEMM
#        peak measured in the same run (and the float32 GEMM rate), fused vs
#        unfused (speed, peak memory, outputs)
#     3. PyTorch eager on the same config and device, when python3 has torch
#   tools/gpu-check.sh [DIR]           both, on a machine that has both
#
# Results: DIR/results/*.json and summary.txt (and $OUT/, where set).
# GPU_CHECK_DEVICE=cuda-emu rehearses both phases here, on the emulator, with
# the tiny models in place of the 124M ones.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mode=all
case "${1:-}" in prepare | run) mode="$1"; shift ;; esac
dir="$(mkdir -p "${1:-gpu-check}" && cd "${1:-gpu-check}" && pwd)"
tiny="-D n_layer=2 -D d_model=64 -D n_head=4 -D vocab=256 -D ctx=64 -D batch=4 -D seq=64"
variant="-D latent=16 -D band=16"
train="--steps 5 --lr 3e-3 --seed 0 --eval-every 0 --eval-batches 2"
device="${GPU_CHECK_DEVICE:-cuda}"

prepare() {
  "$root/scripts/build.sh" > "$dir/build.log" 2>&1 || { tail -20 "$dir/build.log"; exit 1; }
  local racc="$root/build/bin/racc" rarun="$root/build/bin/rarun"
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
  "$racc" compile "$root/models/gpt2.graph" $tiny --target all --no-fuse \
    -o "$dir/art/tiny_unfused.rac"
  "$racc" compile "$root/models/gpt2_mla_ra_all.graph" $tiny $variant --target all --no-fuse \
    -o "$dir/art/all_unfused.rac"
  # The 124M configurations (the models' defaults: MLA latent 128, RA band 64).
  for m in gpt2 gpt2_mla_ra; do
    "$racc" compile "$root/models/$m.graph" --target cuda -o "$dir/art/${m}_124m.rac"
    "$racc" compile "$root/models/$m.graph" --target cuda --no-fuse \
      -o "$dir/art/${m}_124m_unfused.rac"
  done
  echo "== CPU reference runs"
  for m in tiny all; do
    "$rarun" train "$dir/art/$m.rac" --data "$dir/corpus" $train --ckpt-every 2 \
      --out "$dir/ref/$m" > /dev/null
  done
  # The GPU needs no CPU libraries, and the bundle must stay small (the
  # device tool carries 64 MiB): one checkpoint, for the resume check.
  rm -f "$dir"/art/*/cpu/model.so
  [ "$device" = cuda ] && rm -f "$dir"/art/*/cuda/model_emu.so
  find "$dir/ref" -name '*.safetensors' ! -path '*/tiny/ckpt/step_2.safetensors' -delete
  du -sh "$dir"
}

run() {
  mkdir -p "$dir/results"
  local rarun="$dir/bin/rarun" summary="$dir/results/summary.txt" py=python3
  export LD_LIBRARY_PATH="$dir/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  : > "$summary"
  say() { echo "$@" | tee -a "$summary"; }
  if [ "$device" = cuda ]; then nvidia-smi -L | tee -a "$summary"; fi

  say "== 1. correctness on the GPU against the CPU build"
  for m in tiny all; do
    "$rarun" train "$dir/art/$m.rac" --device "$device" --data "$dir/corpus" $train \
      --out "$dir/results/$m" > "$dir/results/$m.log"
    say "$m: $($py "$root/test/runtime/check_devices.py" "$dir/ref/$m/metrics.jsonl" \
      "$dir/results/$m/metrics.jsonl" --tolerance 1e-4)"
  done
  "$rarun" train "$dir/art/tiny.rac" --device "$device" --sync-kernels --data "$dir/corpus" $train \
    --out "$dir/results/tiny-sync" > /dev/null
  say "tiny, --sync-kernels: $($py "$root/test/runtime/check_devices.py" \
    "$dir/ref/tiny/metrics.jsonl" "$dir/results/tiny-sync/metrics.jsonl" --tolerance 1e-4)"
  "$rarun" train "$dir/art/tiny.rac" --device "$device" --data "$dir/corpus" $train \
    --resume "$dir/ref/tiny/ckpt/step_2.safetensors" --out "$dir/results/tiny-resumed" > /dev/null
  say "tiny, CPU checkpoint resumed on the GPU: $($py "$root/test/runtime/check_devices.py" \
    "$dir/ref/tiny/metrics.jsonl" "$dir/results/tiny-resumed/metrics.jsonl" --tolerance 1e-4 \
    --from-step 3)"

  for m in tiny all; do
    say "$m, cached decoding against the forward: $("$rarun" decode-check "$dir/art/$m.rac" \
      --device "$device" 2>&1 | tail -1 || true)"
  done

  say "== 2. 124M, batch 8 x 1024, fused vs unfused, rarun bench --device $device"
  local big
  for big in gpt2_124m gpt2_mla_ra_124m; do
    if [ "$device" != cuda ]; then # a rehearsal, on the tiny models
      if [ "$big" = gpt2_124m ]; then big=tiny; else big=all; fi
    fi
    say "-- $big"
    "$rarun" bench "$dir/art/$big.rac" --device "$device" --steps 5 --warmup 1 \
      --vs "$dir/art/${big}_unfused.rac" --json > "$dir/results/bench_$big.json"
    $py - "$dir/results/bench_$big.json" << 'EOF' | tee -a "$summary"
import json, sys
b = json.load(open(sys.argv[1]))
print(f"{b['device']}: {b['ceiling']}: {b['gemm_gflops'] / 1e3:.1f} TFLOP/s"
      + (f", float32 GEMM {b['fp32_gemm_gflops'] / 1e3:.1f} TFLOP/s" if "fp32_gemm_gflops" in b else ""))
for key in ("artifact", "vs"):
    if key in b:
        r = b[key]
        print(f"{r['artifact']}: {r['ms_per_step']:.1f} ms/step, {r['tokens_per_s']:.0f} tokens/s, "
              f"MFU {100 * r['mfu']:.2f}% of the bf16 peak, arena {r['peak_arena_bytes'] / 2**30:.2f} GiB")
if "vs" in b:
    print(f"fused vs unfused: {b['speedup']:.2f}x faster, peak memory ratio {b['peak_bytes_ratio']:.2f}, "
          f"max relative output difference {b['max_rel_diff']:.1e}")
EOF
  done

  say "== 3. PyTorch eager, same config, float32 on the GPU"
  if [ "$device" = cuda ] && $py -c "import torch; assert torch.cuda.is_available()" 2> /dev/null; then
    $py "$root/bench/torch_train_step.py" --n_layer 12 --d_model 768 --n_head 12 --vocab 50257 \
      --ctx 1024 --batch 8 --seq 1024 --steps 10 --device "$device" | tee "$dir/results/torch_124m.json" \
      | tee -a "$summary"
    $py - "$dir/results/bench_gpt2_124m.json" "$dir/results/torch_124m.json" << 'EOF' | tee -a "$summary"
import json, sys
ours, torch = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
r = ours["artifact"]["ms_per_step"]
print(f"racc {r:.1f} ms/step vs PyTorch eager {torch['ms_per_step']:.1f} ms/step: "
      f"racc is {torch['ms_per_step'] / r:.2f}x PyTorch's speed")
EOF
  else
    say "python3 has no CUDA torch here: skipped"
  fi
  if [ -n "${OUT:-}" ]; then cp "$dir"/results/*.json "$summary" "$OUT/" 2> /dev/null || true; fi
}

case "$mode" in
prepare) prepare ;;
run) run ;;
all) prepare && run ;;
esac

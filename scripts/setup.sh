#!/usr/bin/env bash
# Installs every Debian package racc needs. Idempotent: safe to run again.
set -euo pipefail

PACKAGES=(
  # toolchain: Debian's static MLIR is built with clang, so the project is too
  clang-16 lld-16 llvm-16-dev llvm-16-tools libmlir-16-dev mlir-16-tools
  libclang-rt-16-dev libfuzzer-16-dev
  cmake ninja-build git python3
  # PyTorch (CPU) is the numerical reference in tests; it runs under /usr/bin/python3
  python3-torch python3-numpy
  # libraries
  libfmt-dev libcxxopts-dev catch2 nlohmann-json3-dev libopenblas-dev
  # SHA-256 of artifacts and checkpoints' provenance
  libssl-dev
  # GPT-2's tokenizer: Unicode character classes (ICU); pip fetches its ranks
  libicu-dev python3-pip
  # rarun study: study files (TOML) and the report's plots
  libtomlplusplus-dev python3-matplotlib
  # data-parallel training: mpirun -np N rarun train
  libopenmpi-dev openmpi-bin
  # generated CPU kernels: OpenMP for clang-16
  libomp-16-dev
  # the default training corpus: text under /usr/share/games/fortunes/
  fortunes
  # tools/gpu-check.sh packs rarun's libraries for the GPU machine
  xz-utils
  # zlib/zstd/tinfo/xml2: libraries Debian's static LLVM links against
  zlib1g-dev libzstd-dev libtinfo-dev libxml2-dev libedit-dev libcurl4-openssl-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
else
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# GPT-2's BPE ranks, once, hash-checked (data/gpt2.tiktoken).
bash "$(dirname "$0")/fetch_gpt2_ranks.sh"

#!/usr/bin/env bash
# Regenerates docs/ops.md from the ODS definitions.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build --target RaOpsDocGen
{ echo "<!-- Generated from ir/RaOps.td by mlir-tblgen -gen-op-doc (build/ir/RaOps.md); regenerate with scripts/gen-docs.sh. -->"
  cat build/ir/RaOps.md; } > docs/ops.md

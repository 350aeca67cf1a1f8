# lit configuration for racc: .mlir and .graph tests, FileCheck from LLVM 16.
import shutil
import subprocess
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "racc"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".graph", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "unit", "fuzz", "lit.cfg.py", "__pycache__"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.racc_obj_root, "test")

config.substitutions.append(("%models", os.path.join(config.racc_src_root, "models")))
config.substitutions.append(("%src_root", config.racc_src_root))
config.substitutions.append(("%python", config.python_executable))
# The racc and rarun binaries themselves, for scripts that run them.
config.substitutions.append(("%racc_bin", os.path.join(config.racc_tools_dir, "racc")))
config.substitutions.append(("%rarun_bin", os.path.join(config.racc_tools_dir, "rarun")))
# Debian's python3-torch lives under the system interpreter, whatever
# python3 comes first on PATH.
config.substitutions.append(("%torch_python", "/usr/bin/python3"))

llvm_config.with_system_environment(["HOME", "TMPDIR", "RACC_GPT2_RANKS", "RACC_PEER_PYTHON"])
llvm_config.use_default_substitutions()
# racc's compile cache (tools/racc/CompileCache.h): the suite's own, in the
# build tree, so its tiny models compile once per checkout and never reuse
# the user's ~/.cache/racc.
config.environment["RACC_CACHE_DIR"] = os.path.join(config.test_exec_root, "racc-cache")
tool_dirs = [config.racc_tools_dir, config.llvm_tools_dir]
llvm_config.add_tool_substitutions(["racc", "racc-opt", "rarun", "FileCheck", "not", "count", "split-file"], tool_dirs)

# Data parallel: rarun built with MPI, and mpirun to launch it.
if config.racc_have_mpi.upper() in ("TRUE", "ON", "1") and shutil.which("mpirun"):
    config.available_features.add("mpi")
    config.substitutions.append(("%mpirun", "mpirun --allow-run-as-root --oversubscribe -x OMP_NUM_THREADS=1"))

# CUDA: compiled in CI wherever the toolkit is (no GPU needed to compile).
nvcc = "/usr/local/cuda/bin/nvcc"
if os.path.exists(nvcc):
    config.available_features.add("nvcc")
    config.substitutions.append(("%nvcc", nvcc))
# A GPU with its driver: the real-device tests run (tools/gpu-check.sh).
if shutil.which("nvidia-smi") and subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0:
    config.available_features.add("cuda-device")

# The peers from PyPI (tiktoken, transformers with PyTorch 2.x) live in a
# virtual environment outside the repo (scripts/peer_venv.sh); tests that
# need one run when $RACC_PEER_PYTHON is its interpreter and has the package.
peer = os.environ.get("RACC_PEER_PYTHON")
if peer:
    config.substitutions.append(("%peer_python", peer))
    for package in ["tiktoken", "transformers"]:
        if subprocess.run([peer, "-c", "import " + package], capture_output=True).returncode == 0:
            config.available_features.add(package)

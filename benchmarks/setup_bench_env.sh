#!/usr/bin/env bash
# Create the benchmark environment .bench-env/ (git-ignored) at the repository root.
#
# It sees the system's torch, NumPy and POT (--system-site-packages) and adds torchcfm 1.0.7 with
# --no-deps, so that pip cannot pull in a different torch. torchcfm is a benchmark peer only: it is never
# a dependency of cellbridge. benchmarks/step_speed.py imports only torchcfm.conditional_flow_matching and
# torchcfm.optimal_transport, whose imports are math, warnings, functools, typing, numpy, torch and POT;
# torchcfm.utils (torchdyn, matplotlib) and torchcfm.models.unet are never imported, so no optional
# dependency is installed.
#
# Usage (from anywhere):  bash benchmarks/setup_bench_env.sh [python]   # default: python3
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${1:-python3}"
env="$repo/.bench-env"

if [ ! -x "$env/bin/python" ]; then
    "$py" -m venv --system-site-packages "$env"
fi
"$env/bin/python" -m pip install --quiet --no-deps "torchcfm==1.0.7"

# Fail early if something the benchmark needs is missing or if torchcfm pulled in anything.
"$env/bin/python" - <<'PY'
import sys
import numpy, ot, torch
from torchcfm.conditional_flow_matching import SchrodingerBridgeConditionalFlowMatcher  # noqa: F401
from torchcfm.optimal_transport import OTPlanSampler  # noqa: F401
import torchcfm
extra = sorted({m.split(".")[0] for m in sys.modules} & {"torchdyn", "torchdiffeq", "lightning", "pytorch_lightning", "matplotlib"})
assert not extra, f"unexpected imports: {extra}"
print(f".bench-env ready: python {sys.version.split()[0]}, torch {torch.__version__}, numpy {numpy.__version__}, "
      f"POT {ot.__version__}, torchcfm {torchcfm.__version__}, CUDA available: {torch.cuda.is_available()}")
PY

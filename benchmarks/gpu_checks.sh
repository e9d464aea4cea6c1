#!/usr/bin/env bash
# The checks a lent GPU machine is for, in one run sized for about 10 minutes on one large GPU: the GPU
# tests, the training-step speed on CUDA (cellbridge only: the machine has no network for torchcfm), the
# memory and step time of tl.fit at 10^6 and 10^7 cells, and data-parallel training when two GPUs are
# visible. Results land in benchmarks/results/*_cuda.md; copy them back and commit them.
#
# Usage, from the repository root on the GPU machine:  bash benchmarks/gpu_checks.sh
set -uo pipefail
cd "$(dirname "$0")/.."
python -c "import torch; print('torch', torch.__version__, 'CUDA', torch.cuda.is_available(), torch.cuda.device_count(), 'GPU(s)')"
python -m pytest -q -m gpu tests/test_gpu.py tests/methods/test_data_parallel.py 2>&1 | tail -5
python benchmarks/step_speed.py --device cuda --which cellbridge --rows 5:256 5:1024 5:4096 50:1024 50:8192 2>&1 | tail -12
python benchmarks/fit_scale.py --device cuda --cells 1000000 10000000 2>&1 | tail -6
python benchmarks/data_parallel.py --device cuda --processes 2 2>&1 | tail -6

"""Test-wide settings."""

import torch

# The suite runs as `pytest -n 2` on two cores: one torch thread per worker avoids oversubscription, which
# makes small CPU kernels many times slower (threads spin-waiting for a core).
torch.set_num_threads(1)

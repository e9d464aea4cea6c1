"""Checkpoints of a training run: written atomically, refused when they belong to another fit.

A checkpoint holds everything the training loop needs to continue as if never interrupted: the networks,
the optimiser and scheduler of the current stage, the torch generator, the loss log, the position (stage
and step) and each method's own state (:meth:`cellbridge.methods.Trainer.extra_state`). It is written to a
temporary file and renamed over the previous one, so a run killed at any moment leaves either the old or
the new checkpoint, never half of one. A fingerprint of the data, the settings and the seed is stored with
it; resuming with anything different is refused, never silently reused.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from .._logging import logger

__all__ = ["Checkpointer", "fingerprint"]

CHECKPOINT_FILE = "checkpoint.pt"
_FORMAT = 1


def fingerprint(*parts) -> str:
    """SHA-256 of the parts of a fit: arrays by their bytes, dtype and shape, everything else by its JSON."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            a = np.ascontiguousarray(part)
            h.update(f"array{a.dtype}{a.shape}".encode())
            h.update(a.tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True, default=repr).encode())
        h.update(b"|")
    return h.hexdigest()


class Checkpointer:
    """Where and how often a training run is checkpointed.

    Parameters
    ----------
    directory
        Folder of the checkpoint (created when needed); one run per folder.
    every
        Steps between checkpoints (counted over all stages); a checkpoint is also written when training ends.
    fingerprint
        Identifies the fit (:func:`fingerprint` of data, settings and seed): a checkpoint with another one is
        refused.
    """

    def __init__(self, directory: str | os.PathLike, every: int, fingerprint: str):
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"checkpoint_every must be a positive integer, got {every!r}")
        self.directory = Path(directory)
        self.every = int(every)
        self.fingerprint = fingerprint

    @property
    def path(self) -> Path:
        return self.directory / CHECKPOINT_FILE

    def due(self, n_done: int) -> bool:
        """Whether a checkpoint is due after ``n_done`` steps."""
        return n_done % self.every == 0

    def load(self) -> dict | None:
        """The saved state, or None when there is none; ValueError when it belongs to another fit."""
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001  (a damaged file: say which, never resume from it)
            raise ValueError(f"cannot read the checkpoint {self.path} ({type(err).__name__}: {err}); delete it to "
                             "start afresh") from None
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise ValueError(f"{self.path} is not a checkpoint this cellbridge can resume from")
        if state.get("fingerprint") != self.fingerprint:
            raise ValueError(f"the checkpoint in {self.directory} was written by a different fit (other data, "
                             "settings or seed); pass another checkpoint_dir or delete that folder to start afresh")
        return state

    def save(self, state: dict) -> None:
        """Write ``state`` atomically: to a temporary file, flushed to disk, then renamed over the old one."""
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(CHECKPOINT_FILE + ".tmp")
        with open(tmp, "wb") as fh:
            torch.save({**state, "format": _FORMAT, "fingerprint": self.fingerprint}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def resumed(self, position: dict) -> None:
        logger.info(f"resuming from the checkpoint in {self.directory} (stage {position['stage'] + 1}, "
                    f"step {position['step']})")

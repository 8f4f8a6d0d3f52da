"""Serving-side predictions: rows of features in, delay probabilities out, no pandas."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from model.artifact import ModelArtifact
from model.features import CATEGORICAL, FEATURES


class Predictor:
    """Runs the artifact's pipeline on plain dict rows.

    `unknown_fields` needs only the manifest's vocabulary, so it is answerable
    without the model; `predict_many` unpickles the pipeline on first call.
    """

    def __init__(self, artifact: ModelArtifact) -> None:
        self.artifact = artifact
        vocab = artifact.manifest.get("categories", {})
        self._vocab: dict[str, frozenset[str]] = {
            name: frozenset(vocab.get(name, ())) for name in CATEGORICAL
        }

    def unknown_fields(self, row: Mapping[str, Any]) -> list[str]:
        """Categorical fields whose value the model never saw in training."""
        return [name for name in CATEGORICAL if row[name] not in self._vocab[name]]

    def predict_many(self, rows: Sequence[Mapping[str, Any]]) -> list[float]:
        """Probability of a departure delay > 15 min for each row, in one vectorised call."""
        if not rows:
            return []
        import numpy as np  # deferred: a cache hit never needs it

        matrix = np.array([[row[name] for name in FEATURES] for row in rows], dtype=object)
        proba = self.artifact.pipeline().predict_proba(matrix)[:, 1]
        return [float(p) for p in proba]

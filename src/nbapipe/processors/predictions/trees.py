"""A fitted HistGradientBoostingRegressor's trees as flat numpy arrays, to predict without
scikit-learn: importing it costs a new process about 1.2 s (scipy.stats mostly), more than the
rest of a day's predictions. The arrays are saved beside the model file (`.trees.npz`).

The traversal is scikit-learn's (a NaN goes to the side the tree learned for missing values,
a value <= the threshold goes left) and the sum runs in its order (the baseline, then tree by
tree), so the predictions are bit-identical to the estimator's (tests/test_predictions.py).
Every tree is walked at once, one level per step, which is fast for a day's few hundred rows
and slow for a season's: above FLAT_MAX_ROWS rows the estimator predicts (same numbers).
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Rows up to which the flat arrays predict: a day's slate (at most 403 feature rows in three
# seasons) takes ~30 ms for the three members and the scale model; 2,000 rows took 0.17 s.
FLAT_MAX_ROWS = 1000
FIELDS = ("feature", "threshold", "missing_left", "left", "right", "is_leaf", "value", "roots", "baseline")


@dataclass
class Trees:
    feature: np.ndarray         # per node, over every tree: the feature split on
    threshold: np.ndarray       # go left when x <= threshold
    missing_left: np.ndarray    # where NaN goes
    left: np.ndarray            # children, as indices into these arrays
    right: np.ndarray
    is_leaf: np.ndarray
    value: np.ndarray           # a leaf's value
    roots: np.ndarray           # each tree's first node, in the estimator's order
    baseline: np.ndarray        # the estimator's starting prediction (one value)

    @classmethod
    def of(cls, estimator) -> "Trees":
        """The trees of a fitted single-output HistGradientBoostingRegressor without
        categorical features (what models.py fits)."""
        nodes = [p[0].nodes for p in estimator._predictors]
        if any(n["is_categorical"].any() for n in nodes):
            raise ValueError("categorical splits are not supported")
        roots = np.cumsum([0] + [len(n) for n in nodes[:-1]]).astype(np.intp)
        flat = np.concatenate(nodes)
        offset = np.repeat(roots, [len(n) for n in nodes])
        return cls(feature=flat["feature_idx"].astype(np.intp), threshold=flat["num_threshold"].astype(np.float64),
                   missing_left=flat["missing_go_to_left"].astype(bool),
                   left=flat["left"].astype(np.intp) + offset, right=flat["right"].astype(np.intp) + offset,
                   is_leaf=flat["is_leaf"].astype(bool), value=flat["value"].astype(np.float64), roots=roots,
                   baseline=np.asarray(estimator._baseline_prediction, dtype=np.float64).reshape(1))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """What the estimator's predict returns for X (float64, the model's feature columns)."""
        X = np.asarray(X, dtype=np.float64)
        rows = np.arange(len(X))[None, :]
        node = np.repeat(self.roots[:, None], len(X), axis=1)       # trees x rows
        while True:
            inner = ~self.is_leaf[node]
            if not inner.any():
                break
            x = X[rows, self.feature[node]]
            go_left = np.where(np.isnan(x), self.missing_left[node], x <= self.threshold[node])
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        leaves = self.value[node]
        raw = np.zeros(len(X)) + self.baseline[0]
        for t in range(len(self.roots)):        # (summed in the estimator's order)
            raw += leaves[t]
        return raw


def dumps(trees: dict[str, list[Trees]]) -> bytes:
    """The npz bytes of named lists of Trees (the caller writes them, atomically)."""
    arrays = {f"{name}.{i}.{f}": getattr(t, f) for name, ts in trees.items() for i, t in enumerate(ts) for f in FIELDS}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def load(path: Path) -> dict[str, list[Trees]] | None:
    """The named lists of Trees saved at `path`; None when there is no such file."""
    if not os.path.exists(path):
        return None
    with np.load(path) as z:
        out: dict[str, dict[int, dict]] = {}
        for key in z.files:
            name, i, f = key.rsplit(".", 2)
            out.setdefault(name, {}).setdefault(int(i), {})[f] = z[key]
    return {name: [Trees(**ts[i]) for i in sorted(ts)] for name, ts in out.items()}

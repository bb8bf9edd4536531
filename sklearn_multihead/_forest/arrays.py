"""Forests as plain arrays: how the forest baseline is saved, checked on
load and predicted from after loading (numpy only).

Inside:

- ``forest_arrays``: a fitted scikit-learn forest (or a loaded
  ``ForestArrays``) as named numpy arrays and a small JSON-able description.
- ``ForestArrays``: a forest rebuilt from those arrays after every index in
  them was checked; ``predict`` / ``predict_proba`` walk the trees in numpy
  and give scikit-learn's results (same float32 comparisons of X with the
  thresholds, trees summed in the same order).

Why not scikit-learn's own tree objects: rebuilding them from a file means
trusting ``sklearn.tree._tree.Tree``, whose native ``predict`` follows child
and feature indices without bounds checks (skops leaves the type untrusted
for that reason). Here a file is numbers in a known layout, and a forged
index is refused before any tree is walked.

Layout of one forest (all trees' nodes end to end): ``offsets`` (trees + 1
node offsets), ``left`` / ``right`` (children, local to their tree; -1 at a
leaf), ``feature``, ``threshold``, ``value`` (nodes x outputs x width:
means for regression, class weights or fractions for classification).
"""

import numpy as np

from sklearn_multihead._persist import ModelFileError

#: the arrays of one forest in a model file
FIELDS = ("offsets", "left", "right", "feature", "threshold", "value")
#: walk at most this many (tree, row) pairs at once: 32 MB of node indices
WALK_PAIRS = 2**22
#: densify at most this many cells of a sparse X at once
DENSE_CELLS = 2**24


def forest_arrays(forest):
    """``(description, arrays)`` of a fitted forest: the arrays in ``FIELDS``
    and ``{"classes": [[codes of output k], ...] or None}``."""
    if isinstance(forest, ForestArrays):
        return forest.description(), dict(forest.arrays)
    trees = [est.tree_ for est in forest.estimators_]
    counts = [int(t.node_count) for t in trees]
    arrays = {
        "offsets": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        "left": np.concatenate([t.children_left for t in trees]).astype(np.int64),
        "right": np.concatenate([t.children_right for t in trees]).astype(np.int64),
        "feature": np.concatenate([t.feature for t in trees]).astype(np.int64),
        "threshold": np.concatenate([t.threshold for t in trees]).astype(np.float64),
        "value": np.concatenate([t.value for t in trees]).astype(np.float64),
    }
    classes = getattr(forest, "classes_", None)
    if classes is not None:
        per_output = classes if forest.n_outputs_ > 1 else [classes]
        classes = [np.asarray(c).astype(np.int64).tolist() for c in per_output]
    return {"classes": classes}, arrays


class ForestArrays:
    """A forest loaded from a model file: checked arrays and a numpy walk.

    Attributes
    ----------
    n_features_in_, n_outputs_ : int
    n_estimators : int
        Trees in the forest.
    classes_ : ndarray or list of ndarray
        Class codes (classification only), as scikit-learn's forests give them.
    """

    def __init__(self, description, arrays, n_features, n_outputs, n_classes=None):
        """Check ``arrays`` (from ``forest_arrays``, read from a file) for
        ``n_features`` columns and ``n_outputs`` outputs; ``n_classes``: the
        number of classes of each output's target, None for regression.
        Raises ``ModelFileError`` for anything out of range."""
        if not isinstance(description, dict) or set(arrays) != set(FIELDS):
            raise ModelFileError("a forest whose arrays are not the expected ones")
        self.arrays = {k: np.asarray(arrays[k]) for k in FIELDS}
        self.n_features_in_ = int(n_features)
        self.n_outputs_ = int(n_outputs)
        self._check_nodes()
        self._check_values(description.get("classes"), n_classes)
        a = self.arrays
        self.n_estimators = len(a["offsets"]) - 1
        # children as indices into all nodes, leaves as -1
        start = np.repeat(a["offsets"][:-1], np.diff(a["offsets"]))
        self._left = np.where(a["left"] == -1, -1, a["left"] + start)
        self._right = np.where(a["right"] == -1, -1, a["right"] + start)

    def _check_nodes(self):
        a = self.arrays
        offsets = a["offsets"]
        n = len(a["left"])
        if not (
            offsets.dtype == np.int64
            and offsets.ndim == 1
            and len(offsets) >= 2
            and offsets[0] == 0
            and offsets[-1] == n
            and (np.diff(offsets) >= 1).all()
            and all(a[k].dtype == np.int64 for k in ("left", "right", "feature"))
            and a["threshold"].dtype == np.float64
            and all(
                a[k].shape == (n,) for k in ("left", "right", "feature", "threshold")
            )
            and a["value"].dtype == np.float64
            and a["value"].ndim == 3
            and a["value"].shape[:2] == (n, self.n_outputs_)
            and a["value"].shape[2] >= 1
        ):
            raise ModelFileError("a forest whose arrays do not agree in size")
        local = np.arange(n) - np.repeat(offsets[:-1], np.diff(offsets))
        size = np.repeat(np.diff(offsets), np.diff(offsets))
        left, right, feature = a["left"], a["right"], a["feature"]
        leaf = left == -1
        split = ~leaf
        # children after their parent and inside its tree: every walk ends
        if not (
            np.array_equal(leaf, right == -1)
            and (left[split] > local[split]).all()
            and (right[split] > local[split]).all()
            and (left[split] < size[split]).all()
            and (right[split] < size[split]).all()
            and (feature[split] >= 0).all()
            and (feature[split] < self.n_features_in_).all()
            and not np.isnan(a["threshold"][split]).any()
        ):
            raise ModelFileError("a tree with a child or feature index out of range")

    def _check_values(self, classes, n_classes):
        value = self.arrays["value"]
        if not np.isfinite(value).all():
            raise ModelFileError("a forest with values that are not finite")
        if n_classes is None:
            if classes is not None or value.shape[2] != 1:
                raise ModelFileError("a regression forest with class values")
            self.classes_ = None
            return
        if (
            not isinstance(classes, list)
            or len(classes) != self.n_outputs_
            or len(n_classes) != self.n_outputs_
        ):
            raise ModelFileError("a classification forest without its classes")
        checked = []
        for codes, k in zip(classes, n_classes):
            codes = np.asarray(codes)
            if not (
                codes.ndim == 1
                and 1 <= len(codes) <= value.shape[2]
                and codes.dtype.kind == "i"
                and (np.diff(codes) > 0).all()
                and codes[0] >= 0
                and codes[-1] < k
            ):
                raise ModelFileError("a forest whose classes do not match its target")
            checked.append(codes.astype(np.int64))
        if (value < 0).any():
            raise ModelFileError("a classification forest with negative weights")
        self.classes_ = checked if self.n_outputs_ > 1 else checked[0]

    def description(self):
        classes = self.classes_
        if classes is not None:
            per_output = classes if self.n_outputs_ > 1 else [classes]
            classes = [c.tolist() for c in per_output]
        return {"classes": classes}

    # -- prediction -------------------------------------------------------------
    def _leaf_blocks(self, X):
        """``(rows, leaves)`` per block of X's rows: ``leaves`` (trees x the
        block's rows) the leaf each tree sends each row to. Blocks bound the
        memory: at most ``WALK_PAIRS`` (tree, row) pairs, ``DENSE_CELLS``
        cells of a sparse X densified."""
        n = X.shape[0]
        rows_at_once = max(
            1, min(WALK_PAIRS // self.n_estimators, DENSE_CELLS // max(1, X.shape[1]))
        )
        for start in range(0, n, rows_at_once):
            block = X[start : start + rows_at_once]
            block = block.toarray() if hasattr(block, "toarray") else block
            leaves = self._walk(np.asarray(block, dtype=np.float32))
            yield slice(start, start + len(block)), leaves

    def _walk(self, X):
        """The leaf of each (tree, row) pair, as scikit-learn's trees find it:
        left when the float32 cell is at most the node's threshold."""
        n = X.shape[0]
        node = np.repeat(self.arrays["offsets"][:-1], n)
        row = np.tile(np.arange(n), self.n_estimators)
        active = np.flatnonzero(self._left[node] != -1)
        while active.size:  # one level per pass; children come later: it ends
            at = node[active]
            go_left = (
                X[row[active], self.arrays["feature"][at]]
                <= self.arrays["threshold"][at]
            )
            node[active] = np.where(go_left, self._left[at], self._right[at])
            active = active[self._left[node[active]] != -1]
        return node.reshape(self.n_estimators, n)

    def predict(self, X):
        if self.classes_ is None:
            # per row, trees added in order, as scikit-learn's forest does
            value = self.arrays["value"]
            total = np.zeros((X.shape[0], self.n_outputs_))
            for rows, leaves in self._leaf_blocks(X):
                part = total[rows]
                for tree_leaves in leaves:
                    part += value[tree_leaves][:, :, 0]
            total /= self.n_estimators
            return total[:, 0] if self.n_outputs_ == 1 else total
        proba = self.predict_proba(X)
        if self.n_outputs_ == 1:
            return self.classes_.take(np.argmax(proba, axis=1))
        return np.column_stack(
            [c.take(np.argmax(p, axis=1)) for c, p in zip(self.classes_, proba)]
        )

    def predict_proba(self, X):
        if self.classes_ is None:
            raise AttributeError("a regression forest has no predict_proba")
        classes = self.classes_ if self.n_outputs_ > 1 else [self.classes_]
        value = self.arrays["value"]
        out = [np.zeros((X.shape[0], len(c))) for c in classes]
        for rows, leaves in self._leaf_blocks(X):
            for tree_leaves in leaves:
                leaf_values = value[tree_leaves]
                for k, c in enumerate(classes):
                    p = leaf_values[:, k, : len(c)]
                    total = p.sum(axis=1)[:, np.newaxis]
                    total[total == 0.0] = 1.0
                    out[k][rows] += p / total
        for p in out:
            p /= self.n_estimators
        return out if self.n_outputs_ > 1 else out[0]

"""A LightGBM model's trees, read from its text format and evaluated with numpy.

The service ranks a few dozen candidates per search with a model trained by LightGBM
(`bench/relevance/train.py`); importing LightGBM for that would pull in its optional scikit-learn,
scipy and pandas (~100 MiB of the API's memory). The model text is a plain format: per tree, the
split feature, threshold and decision type of each internal node, its children (≥ 0: an internal
node, < 0: leaf ~child) and the leaf values, shrinkage already applied. `Forest` walks every tree
for every row at once, one level per numpy step, and sums the leaves: LightGBM's raw score, equal to
`Booster.predict` (tests/unit/test_trees.py checks this on trained models with missing values).

Numerical splits only (what the ranker's features are); categorical splits, linear trees and
objectives whose output LightGBM transforms are refused on load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

ZERO_THRESHOLD = 1e-35
"""LightGBM's kZeroThreshold: |x| ≤ this is zero for a split whose missing type is Zero."""

MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2
"""Bits 2-3 of a node's decision type; bit 0 is categorical, bit 1 default-left."""

RAW_SCORE_OBJECTIVES = ("lambdarank", "rank_xendcg", "regression", "regression_l1", "huber", "fair", "quantile")
"""Objectives whose prediction is the raw sum of leaves (no sigmoid, softmax or exp)."""


@dataclass(frozen=True)
class _Tree:
    feature: list[int]
    threshold: list[float]
    decision: list[int]
    left: list[int]
    right: list[int]
    leaf_value: list[float]


class Forest:
    """The trees of one LightGBM model text; `predict(rows)` is the raw score per row.

    Internal nodes and leaves of every tree share one set of arrays; a leaf's two children are
    itself (`leaf` marks them), so a walk from every root ends on each tree's leaf for every row."""

    def __init__(self, model_text: str) -> None:
        header, trees = _parse(model_text)
        objective = header.get("objective", "").split(" ")[0]
        if objective not in RAW_SCORE_OBJECTIVES:
            raise ValueError(f"objective {objective!r}: only raw-score objectives are evaluated here")
        if int(header.get("num_tree_per_iteration", "1")) != 1:
            raise ValueError("a multi-class model")
        if not trees:
            raise ValueError("the model has no trees")
        self.num_feature = int(header["max_feature_idx"]) + 1

        roots: list[int] = []
        feature: list[int] = []
        threshold: list[float] = []
        decision: list[int] = []
        children: list[int] = []  # 2·node: left, 2·node + 1: right
        value: list[float] = []
        for tree in trees:
            base, inner = len(feature), len(tree.feature)
            roots.append(base)  # node 0, or the only leaf
            for i in range(inner):
                children += [_global(tree.left[i], base, inner), _global(tree.right[i], base, inner)]
            leaves = range(base + inner, base + inner + len(tree.leaf_value))
            children += [c for leaf in leaves for c in (leaf, leaf)]
            feature += tree.feature + [0] * len(leaves)
            threshold += tree.threshold + [math.inf] * len(leaves)
            decision += tree.decision + [0] * len(leaves)
            value += [0.0] * inner + tree.leaf_value
        if max(feature) >= self.num_feature:
            raise ValueError("a split reads a feature past max_feature_idx")
        self.roots = np.asarray(roots, dtype=np.intp)
        self.feature = np.asarray(feature, dtype=np.intp)
        self.threshold = np.asarray(threshold, dtype=np.float64)
        self.children = np.asarray(children, dtype=np.intp)
        self.value = np.asarray(value, dtype=np.float64)
        codes = np.asarray(decision, dtype=np.int64)
        default_right = (codes & 2) == 0
        missing = (codes >> 2) & 3
        # Where a NaN goes: to the default side for Zero and NaN missing types, else it is read as 0.0.
        self.nan_right = np.where(missing == MISSING_NONE, self.threshold < 0.0, default_right)
        # Zero-missing-type nodes send a zero to their default side (elsewhere a zero is compared like any value).
        self.zero_nodes = missing == MISSING_ZERO
        self.any_zero_nodes = bool(self.zero_nodes.any())
        self.default_right = default_right
        self.leaf = self.children[0::2] == np.arange(len(feature))

    def predict(self, rows: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Every (row, tree) pair walks down one level per step. While most pairs still walk, all of them
        step (a leaf steps to itself); once fewer than half do, only those are stepped (most trees end
        within a few levels of their deepest leaf): ~35% less work than stepping every pair to the depth
        of the deepest tree, the same sums (bench/results/perf-notes.md, issue 11)."""
        x = np.asarray(rows, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.num_feature:
            raise ValueError(f"rows must be (n, {self.num_feature}), not {x.shape}")
        flat = x.ravel()
        trees = len(self.roots)
        holes = bool(np.isnan(flat).any())
        at = np.tile(self.roots, len(x))  # row-major: row i's trees are at[i·trees:(i + 1)·trees]
        offset = np.repeat(np.arange(len(x), dtype=np.intp) * self.num_feature, trees)
        while True:
            at = self._step(flat, offset, at, holes)
            walking = np.flatnonzero(~self.leaf[at])
            if 2 * walking.size <= at.size:
                break
        while walking.size:
            node = self._step(flat, offset[walking], at[walking], holes)
            at[walking] = node
            walking = walking[~self.leaf[node]]
        return np.asarray(self.value[at].reshape(len(x), trees).sum(axis=1), dtype=np.float64)

    def _step(self, flat: npt.NDArray[np.float64], offset: npt.NDArray[np.intp], node: npt.NDArray[np.intp],
              holes: bool) -> npt.NDArray[np.intp]:
        """The child each (row offset, node) pair goes to (a leaf's is itself)."""
        value = flat[offset + self.feature[node]]
        right = value > self.threshold[node]
        if holes:
            right = np.where(np.isnan(value), self.nan_right[node], right)
        if self.any_zero_nodes:
            right = np.where(self.zero_nodes[node] & (np.abs(value) <= ZERO_THRESHOLD), self.default_right[node], right)
        return np.asarray(self.children[2 * node + right], dtype=np.intp)


def _parse(text: str) -> tuple[dict[str, str], list[_Tree]]:
    """The header's key=value lines and the trees, from LightGBM's model text (`Booster.model_to_string`)."""
    blocks = text.split("\n\n")
    header = _fields(blocks[0])
    if not blocks[0].startswith("tree"):
        raise ValueError("not a LightGBM model text")
    trees: list[_Tree] = []
    for block in blocks[1:]:
        block = block.strip()
        if block.startswith("end of trees"):
            break
        if not block.startswith("Tree="):
            continue
        fields = _fields(block)
        if int(fields.get("num_cat", "0")) or fields.get("is_linear", "0") != "0":
            raise ValueError("categorical splits and linear trees are not supported")
        leaves = int(fields["num_leaves"])
        values = [float(v) for v in fields["leaf_value"].split()]
        if leaves == 1:
            trees.append(_Tree([], [], [], [], [], values))
            continue
        ints = {key: [int(v) for v in fields[key].split()]
                for key in ("split_feature", "decision_type", "left_child", "right_child")}
        tree = _Tree(ints["split_feature"], [float(v) for v in fields["threshold"].split()], ints["decision_type"],
                     ints["left_child"], ints["right_child"], values)
        if any((code & 1) for code in tree.decision):
            raise ValueError("categorical splits are not supported")
        if not (len(tree.feature) == len(tree.threshold) == len(tree.left) == len(tree.right) == leaves - 1
                and len(values) == leaves):
            raise ValueError(f"a tree with {leaves} leaves has inconsistent node lists")
        trees.append(tree)
    return header, trees


def _global(child: int, base: int, inner: int) -> int:
    """A tree's child reference (≥ 0: internal node, < 0: leaf ~child) as an index into the shared arrays,
    where the tree's internal nodes start at `base` and its leaves follow them."""
    return base + child if child >= 0 else base + inner + ~child


def _fields(block: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in block.splitlines() if "=" in line)

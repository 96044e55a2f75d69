"""service.trees.Forest: LightGBM's model text evaluated with numpy equals LightGBM's own prediction."""

from __future__ import annotations

import json
from typing import Any

import lightgbm
import numpy as np
import pytest

from govsearch.settings import Settings
from service.trees import Forest


def _rows(rng: np.random.Generator, n: int, width: int, *, holes: bool) -> np.ndarray:
    """Random features with exact zeros, values on split thresholds' sides, and (with `holes`) NaNs."""
    x = rng.normal(size=(n, width))
    x[rng.random((n, width)) < 0.15] = 0.0
    if holes:
        x[rng.random((n, width)) < 0.15] = np.nan
    return x


def _ranker(x: np.ndarray, **params: Any) -> lightgbm.Booster:
    rng = np.random.default_rng(3)
    y = (np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 1]) * rng.random(len(x)) > 0.3).astype(int)
    model = lightgbm.LGBMRanker(n_estimators=30, num_leaves=7, min_child_samples=5, random_state=1, verbose=-1,
                                **params)
    model.fit(x, y, group=[20] * (len(x) // 20))
    return model.booster_


@pytest.mark.parametrize("params", [{}, {"zero_as_missing": True}, {"use_missing": False}],
                         ids=["nan-missing", "zero-missing", "no-missing"])
def test_predictions_equal_lightgbm_on_a_model_with_missing_values(params: dict[str, Any]) -> None:
    rng = np.random.default_rng(11)
    booster = _ranker(_rows(rng, 600, 6, holes=True), **params)
    rows = _rows(rng, 500, 6, holes=True)
    expected = booster.predict(rows, num_threads=1)
    assert np.allclose(Forest(booster.model_to_string()).predict(rows), expected, rtol=0, atol=1e-12)


def test_predictions_equal_lightgbm_on_the_shipped_model() -> None:
    model_text = json.loads(Settings(_env_file=None).ranker_model.read_text(encoding="utf-8"))["model"]  # type: ignore[union-attr,call-arg]
    booster = lightgbm.Booster(model_str=model_text)
    forest = Forest(model_text)
    assert forest.num_feature == booster.num_feature()
    rng = np.random.default_rng(5)
    rows = np.abs(_rows(rng, 400, forest.num_feature, holes=False)) * rng.choice([1, 10, 100], size=forest.num_feature)
    assert np.allclose(forest.predict(rows), booster.predict(rows, num_threads=1), rtol=0, atol=1e-12)


def test_a_tree_of_one_leaf_adds_its_value() -> None:
    x = _rows(np.random.default_rng(2), 40, 3, holes=False)
    model = lightgbm.LGBMRanker(n_estimators=3, min_child_samples=1000, random_state=1, verbose=-1)
    model.fit(x, np.zeros(len(x), dtype=int), group=[20, 20])
    booster = model.booster_
    assert np.allclose(Forest(booster.model_to_string()).predict(x), booster.predict(x), rtol=0, atol=1e-12)


def test_models_it_cannot_evaluate_are_refused() -> None:
    rng = np.random.default_rng(4)
    x = _rows(rng, 200, 3, holes=False)
    y = (x[:, 0] > 0).astype(int)
    binary = lightgbm.LGBMClassifier(n_estimators=3, verbose=-1).fit(x, y).booster_
    with pytest.raises(ValueError, match="raw-score"):
        Forest(binary.model_to_string())
    x[:, 2] = rng.integers(0, 5, size=len(x))
    y = (x[:, 2] >= 3).astype(int)  # the categorical column decides, so the trees split on it
    categorical = lightgbm.train({"objective": "regression", "verbose": -1, "min_data_per_group": 1,
                                  "cat_smooth": 0, "min_data_in_leaf": 2},
                                 lightgbm.Dataset(x, y, categorical_feature=[2]), num_boost_round=5)
    assert "decision_type=1" in categorical.model_to_string()
    with pytest.raises(ValueError, match="categorical"):
        Forest(categorical.model_to_string())
    with pytest.raises(ValueError, match="not a LightGBM model"):
        Forest("{}")


def test_rows_of_the_wrong_width_are_refused() -> None:
    booster = _ranker(_rows(np.random.default_rng(1), 200, 4, holes=False))
    with pytest.raises(ValueError, match="rows must be"):
        Forest(booster.model_to_string()).predict(np.zeros((2, 3)))

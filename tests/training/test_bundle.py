"""The model bundle pins its feature set: a bundle whose vocabularies or windows differ from
the code's is refused with a message naming the difference (fail closed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from features.definitions import FEATURE_NAMES, feature_set_fingerprint
from training.model import BundleMismatch, RiskModel, feature_matrix


def _edit(bundle, change) -> None:
    meta_file = bundle / "bundle.json"
    meta = json.loads(meta_file.read_text())
    change(meta)
    meta_file.write_text(json.dumps(meta))


def test_a_saved_bundle_loads_and_predicts_the_same(fitted, split, tmp_path) -> None:
    bundle = fitted.save(tmp_path / "bundle")
    meta = json.loads((bundle / "bundle.json").read_text())
    assert meta["feature_fingerprint"] == feature_set_fingerprint()
    region = next(f for f in meta["feature_set"]["features"] if f["name"] == "region")
    assert region["vocabulary"][0] == "US"
    x = feature_matrix(split["test"].head(50), FEATURE_NAMES)
    again = RiskModel.load(bundle).predict(x)
    for target, p in fitted.predict(x).items():
        np.testing.assert_allclose(again[target], p, rtol=0, atol=1e-12)


def test_a_vocabulary_that_grew_under_the_model_is_refused(fitted, tmp_path) -> None:
    """The code's region vocabulary no longer matches the one the model was trained with:
    codes would shift under the champion, so loading fails and names the feature."""
    bundle = fitted.save(tmp_path / "bundle")

    def trained_with_fewer_regions(meta: dict) -> None:
        for f in meta["feature_set"]["features"]:
            if f["name"] == "region":
                f["vocabulary"] = f["vocabulary"][:-1]
        meta["feature_fingerprint"] = feature_set_fingerprint(meta["feature_set"])

    _edit(bundle, trained_with_fewer_regions)
    with pytest.raises(BundleMismatch, match=r"region\.vocabulary"):
        RiskModel.load(bundle)


def test_a_window_change_or_a_forged_fingerprint_is_refused(fitted, tmp_path) -> None:
    bundle = fitted.save(tmp_path / "bundle")
    _edit(bundle, lambda meta: meta["feature_set"].update(count_windows_days=[1, 7, 28, 90]))
    with pytest.raises(BundleMismatch, match="count_windows_days"):
        RiskModel.load(bundle)
    other = fitted.save(tmp_path / "other")
    _edit(other, lambda meta: meta.update(feature_fingerprint="0" * 16))
    with pytest.raises(BundleMismatch, match="fingerprint"):
        RiskModel.load(other)


def test_a_bundle_of_the_previous_format_is_refused_with_what_to_do(fitted, tmp_path) -> None:
    bundle = fitted.save(tmp_path / "bundle")
    _edit(bundle, lambda meta: meta.update(format=1))
    with pytest.raises(BundleMismatch, match="retrain"):
        RiskModel.load(bundle)

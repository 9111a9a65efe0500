"""The risk model: one calibrated LightGBM booster per target, saved as one bundle.

A bundle directory holds, per target, an MLflow LightGBM model (native flavour — pyfunc on
a classifier returns labels, not probabilities) and the calibrator as JSON, plus
``bundle.json`` with the feature names, categorical features and monotone constraints. The
same class trains, predicts, explains and is loaded by the service.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

# OpenMP threads must wait passively (spinning ones slow a shared machine 10-20x). The
# variable is read when the OpenMP runtime starts, i.e. on importing lightgbm, so the entry
# points set it first (``serving.settings.start_runtime``), not this module.
import lightgbm as lgb
import numpy as np
import pandas as pd

from features.definitions import (
    CATEGORICAL_FEATURES,
    FEATURE_NAMES,
    TARGETS,
    combined_risk,
    feature_set_description,
    feature_set_differences,
    feature_set_fingerprint,
    monotone_constraints,
)
from training.calibration import Calibrator
from training.config import LightGBMConfig
from training.data import WEIGHT
from training.fast_predict import SingleRowPredictor

#: 2: the bundle records the feature set (vocabularies, windows) and its fingerprint.
BUNDLE_FORMAT = 2


class BundleMismatch(ValueError):
    """A bundle's feature set is not the code's: loading it would misread its columns."""


def feature_matrix(frame: pd.DataFrame, names: list[str] | tuple[str, ...]) -> np.ndarray:
    """The model's input matrix (float64, column order = ``names``)."""
    return frame.loc[:, list(names)].to_numpy(dtype=np.float64, na_value=np.nan)


def _weights(frame: pd.DataFrame) -> np.ndarray | None:
    return frame[WEIGHT].to_numpy(dtype=np.float64) if WEIGHT in frame.columns else None


#: Up to this many rows a prediction runs on one thread (see :meth:`TargetModel.raw`).
SINGLE_THREAD_ROWS = 5_000


@dataclass
class TargetModel:
    """One target: booster + calibrator + what early stopping chose."""

    target: str
    booster: lgb.Booster
    calibrator: Calibrator
    best_iteration: int
    _one_row: SingleRowPredictor | None = field(default=None, init=False, repr=False, compare=False)

    def raw(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 1:  # a dial: LightGBM's single-row path (training.fast_predict)
            if self._one_row is None:
                self._one_row = SingleRowPredictor(self.booster, self.best_iteration)
            return np.array([self._one_row.predict(x[0])])
        # Small batches (a screen request) pay more to start OpenMP threads than the trees
        # cost: one thread up to a few thousand rows, all cores beyond.
        threads = 1 if len(x) <= SINGLE_THREAD_ROWS else 0
        return self.booster.predict(x, num_iteration=self.best_iteration, num_threads=threads)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.calibrator.transform(self.raw(x))


@dataclass
class RiskModel:
    """Both targets. ``fit`` returns ``self``; fitted state ends in ``_``."""

    params: LightGBMConfig = field(default_factory=LightGBMConfig)
    calibration: str = "auto"
    seed: int = 7
    feature_names: tuple[str, ...] = FEATURE_NAMES
    models_: dict[str, TargetModel] = field(default_factory=dict)

    # ------------------------------------------------------------------ training
    def lgb_params(self) -> dict:
        p = self.params
        return {
            "objective": "binary",
            "learning_rate": p.learning_rate,
            "num_leaves": p.num_leaves,
            "max_depth": p.max_depth,
            "min_child_samples": p.min_child_samples,
            "feature_fraction": p.feature_fraction,
            "lambda_l2": p.lambda_l2,
            "max_bin": p.max_bin,
            "num_threads": p.num_threads,
            "monotone_constraints": monotone_constraints(self.feature_names),
            "monotone_constraints_method": p.monotone_constraints_method,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }

    def categorical(self) -> list[str]:
        return [n for n in self.feature_names if n in CATEGORICAL_FEATURES]

    def fit(
        self,
        train: pd.DataFrame,
        early_stopping: pd.DataFrame,
        calibration: pd.DataFrame,
        targets: tuple[str, ...] = TARGETS,
    ) -> RiskModel:
        """Fit a booster per target, early-stopped on its slice, and its calibrator. A
        ``WEIGHT`` column weighs the rows of train and early stopping (down-sampled
        negatives, :mod:`training.frame_data`); the calibration slice is never weighted."""
        names = list(self.feature_names)
        cats = self.categorical()
        x_tr, x_es, x_cal = (feature_matrix(f, names) for f in (train, early_stopping, calibration))
        for target in targets:
            d_tr = lgb.Dataset(
                x_tr,
                train[target].to_numpy(),
                weight=_weights(train),
                feature_name=names,
                categorical_feature=cats,
                free_raw_data=False,
            )
            d_es = lgb.Dataset(
                x_es,
                early_stopping[target].to_numpy(),
                weight=_weights(early_stopping),
                reference=d_tr,
            )
            booster = lgb.train(
                self.lgb_params(),
                d_tr,
                num_boost_round=self.params.num_boost_round,
                valid_sets=[d_es],
                valid_names=["early_stopping"],
                callbacks=[lgb.early_stopping(self.params.early_stopping_rounds, verbose=False)],
            )
            best = booster.best_iteration or booster.current_iteration()
            raw_cal = booster.predict(x_cal, num_iteration=best)
            cal = Calibrator(self.calibration).fit(raw_cal, calibration[target].to_numpy())
            self.models_[target] = TargetModel(target, booster, cal, best)
        return self

    # ------------------------------------------------------------------ inference
    def predict(self, frame: pd.DataFrame | np.ndarray) -> dict[str, np.ndarray]:
        """Calibrated probability per target, plus ``risk`` = P(complaint or opt-out)."""
        x = frame if isinstance(frame, np.ndarray) else feature_matrix(frame, self.feature_names)
        out = {t: m.predict(x) for t, m in self.models_.items()}
        if "complaint_7d" in out and "opt_out_7d" in out:
            out["risk"] = combined_risk(out["complaint_7d"], out["opt_out_7d"])
        return out

    def contributions(self, x: np.ndarray, target: str) -> np.ndarray:
        """Per-feature contributions (log-odds of the raw booster; last column = bias)."""
        m = self.models_[target]
        return m.booster.predict(x, num_iteration=m.best_iteration, pred_contrib=True)

    def importance(self, target: str) -> pd.Series:
        m = self.models_[target]
        gain = m.booster.feature_importance("gain", iteration=m.best_iteration)
        return pd.Series(gain, index=list(self.feature_names)).sort_values(ascending=False)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        import mlflow.lightgbm

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for target, m in self.models_.items():
            booster = m.booster
            if m.best_iteration and m.best_iteration < booster.current_iteration():
                booster = lgb.Booster(
                    model_str=booster.model_to_string(num_iteration=m.best_iteration)
                )
            mlflow.lightgbm.save_model(
                booster, path / target, pip_requirements=[f"lightgbm=={lgb.__version__}"]
            )
            (path / target / "calibration.json").write_text(json.dumps(m.calibrator.to_dict()))
        meta = {
            "format": BUNDLE_FORMAT,
            "targets": list(self.models_),
            "feature_names": list(self.feature_names),
            "categorical_features": self.categorical(),
            "monotone_constraints": monotone_constraints(self.feature_names),
            "best_iteration": {t: m.best_iteration for t, m in self.models_.items()},
            "seed": self.seed,
            "params": self.params.model_dump(),
            "feature_set": feature_set_description(),
            "feature_fingerprint": feature_set_fingerprint(),
        }
        (path / "bundle.json").write_text(json.dumps(meta, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> RiskModel:
        import mlflow.lightgbm

        path = Path(path)
        meta_file = path / "bundle.json"
        if not meta_file.exists():
            raise FileNotFoundError(f"{path}: not a contactgate model bundle (no bundle.json)")
        meta = json.loads(meta_file.read_text())
        if meta.get("format") != BUNDLE_FORMAT:
            raise BundleMismatch(
                f"{path}: bundle format {meta.get('format')} is not {BUNDLE_FORMAT} "
                "(older bundles do not record their feature set); retrain with contactgate train"
            )
        check_feature_set(meta, path)
        model = cls(
            params=LightGBMConfig(**meta["params"]),
            seed=meta["seed"],
            feature_names=tuple(meta["feature_names"]),
        )
        for target in meta["targets"]:
            booster = mlflow.lightgbm.load_model(str(path / target))
            cal = Calibrator.from_dict(json.loads((path / target / "calibration.json").read_text()))
            model.models_[target] = TargetModel(target, booster, cal, booster.current_iteration())
        return model


def check_feature_set(meta: dict, where: object) -> None:
    """Fail closed when a bundle was trained on another feature set than the code computes
    (a vocabulary that grew, a window that changed): its columns would be misread."""
    recorded = meta.get("feature_set") or {}
    if (
        meta.get("feature_fingerprint")
        == feature_set_fingerprint(recorded)
        == (feature_set_fingerprint())
    ):
        return
    differences = feature_set_differences(recorded) or ["the recorded fingerprint does not match"]
    raise BundleMismatch(
        f"{where}: the model was trained on another feature set than this code computes "
        f"(bundle {meta.get('feature_fingerprint')}, code {feature_set_fingerprint()}): "
        + "; ".join(differences)
        + ". Retrain with contactgate train, or run the code version the model was trained with."
    )

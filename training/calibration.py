"""Probability calibration fitted on its own time slice, stored as a small JSON document.

``auto``: isotonic regression when the calibration slice has enough positives, Platt
(sigmoid) scaling otherwise — isotonic overfits a handful of positives into a staircase.
The training default is ``sigmoid`` (training.config): even with thousands of positives the
isotonic staircase tied most of the riskiest contacts (64 distinct complaint scores, the top
1 % sharing 10), which cost ~10 % of PR-AUC; Platt keeps the booster's ranking. More flexible
strictly monotone maps did not calibrate the out-of-time slice better (2.37 M simulated
contacts, seeds 7, 11, 13): beta calibration, a monotone piecewise-linear map in logit space,
and Platt on the early-stopping + calibration slices all gave ECEs within ±0.0002 of Platt's,
inside the noise, and none better on every seed. What is left of the out-of-time ECE is
drift between the calibration and test periods, not the shape of the map: Platt refitted on
the test slice itself would give an opt-out ECE of 0.0007–0.0011, near the noise floor
(~0.0009); fitted on the calibration slice it gives 0.0011–0.0018. The fitted state is plain
numbers, so serving applies it with numpy and no pickled sklearn objects (the bundle
holds the booster as an ``mlflow.lightgbm`` model and the calibrator as a small JSON file).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

ISOTONIC_MIN_POSITIVES = 500


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


@dataclass
class Calibrator:
    """Maps a raw model probability to a calibrated one. ``fit`` returns ``self``."""

    method: str = "auto"  # auto | isotonic | sigmoid
    method_: str | None = None
    x_: list[float] = field(default_factory=list)  # isotonic knots (raw probability)
    y_: list[float] = field(default_factory=list)  # isotonic knots (calibrated)
    a_: float = 1.0  # sigmoid: p = 1 / (1 + exp(-(a * logit(raw) + b)))
    b_: float = 0.0

    def fit(self, raw: np.ndarray, y: np.ndarray) -> Calibrator:
        raw = np.asarray(raw, dtype=float)
        y = np.asarray(y, dtype=int)
        method = self.method
        if method == "auto":
            method = "isotonic" if y.sum() >= ISOTONIC_MIN_POSITIVES else "sigmoid"
        if method == "isotonic":
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
            iso.fit(raw, y)
            self.x_ = [float(v) for v in iso.X_thresholds_]
            self.y_ = [float(v) for v in iso.y_thresholds_]
        elif method == "sigmoid":
            lr = LogisticRegression(C=1e6, max_iter=1000)
            lr.fit(_logit(raw).reshape(-1, 1), y)
            self.a_ = float(lr.coef_[0, 0])
            self.b_ = float(lr.intercept_[0])
        else:
            raise ValueError(f"calibration method {method!r}: use auto, isotonic or sigmoid")
        self.method_ = method
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=float)
        if self.method_ == "isotonic":
            return np.interp(raw, self.x_, self.y_)
        if self.method_ == "sigmoid":
            return 1.0 / (1.0 + np.exp(-(self.a_ * _logit(raw) + self.b_)))
        raise RuntimeError("calibrator is not fitted")

    def to_dict(self) -> dict:
        return {"method": self.method_, "x": self.x_, "y": self.y_, "a": self.a_, "b": self.b_}

    @classmethod
    def from_dict(cls, data: dict) -> Calibrator:
        return cls(
            method=data["method"],
            method_=data["method"],
            x_=list(data["x"]),
            y_=list(data["y"]),
            a_=float(data["a"]),
            b_=float(data["b"]),
        )

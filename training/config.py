"""Training configuration: a validated file where an unknown key is an error.

Example ``train.yaml``::

    seed: 7
    split: {train: 0.6, early_stopping: 0.1, calibration: 0.1, test: 0.2}
    lightgbm: {learning_rate: 0.08, num_leaves: 31, max_depth: 6}
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SplitConfig(_Strict):
    """Shares of contacts by time: train < early stopping < calibration < out-of-time test."""

    train: float = Field(0.6, gt=0, lt=1)
    early_stopping: float = Field(0.1, gt=0, lt=1)
    calibration: float = Field(0.1, gt=0, lt=1)
    test: float = Field(0.2, gt=0, lt=1)
    warmup_days: int = Field(
        30,
        ge=0,
        description="Contacts in the first days have truncated history windows; skip them.",
    )

    @model_validator(mode="after")
    def _sum(self) -> SplitConfig:
        total = self.train + self.early_stopping + self.calibration + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split shares must add up to 1, got {total:g}")
        return self


class LightGBMConfig(_Strict):
    """Booster parameters. Shallow trees keep ``pred_contrib`` explanations cheap: it costs
    ~320x a plain prediction on deep trees (5.9 s per 1,000 rows at depth 23).

    Depth 2 by default: complaint and opt-out risk is close to additive in log-odds and
    positives are rare, so deeper trees overfit after a few dozen rounds. Measured on 2.37 M
    simulated contacts (out-of-time test): depth 2 / lr 0.1 / patience 100 + sigmoid gave
    complaint PR-AUC 0.0184 vs 0.0151 for depth 6 / lr 0.08 / patience 40 + isotonic, ROC
    0.792 vs 0.787; opt-out PR-AUC 0.0520 vs 0.0495.
    """

    learning_rate: float = Field(0.1, gt=0, le=1)
    num_leaves: int = Field(31, ge=2, le=1024)
    max_depth: int = Field(2, ge=1, le=16)
    min_child_samples: int = Field(200, ge=1)
    feature_fraction: float = Field(0.9, gt=0, le=1)
    lambda_l2: float = Field(1.0, ge=0)
    max_bin: int = Field(127, ge=15, le=1023)
    num_boost_round: int = Field(1000, ge=1)
    early_stopping_rounds: int = Field(100, ge=1)
    num_threads: int = Field(0, ge=0, description="0 = all cores")
    monotone_constraints_method: Literal["basic", "intermediate", "advanced"] = "intermediate"


class PromotionConfig(_Strict):
    """How much worse a challenger may be and still count as 'at least as good'."""

    pr_auc_tolerance: float = Field(0.0, ge=0, le=0.1)
    ece_tolerance: float = Field(0.002, ge=0, le=0.05)


class SamplingConfig(_Strict):
    """Training from a frame dataset larger than memory (``contactgate train --frame``): every
    positive (of either target) and a random share of the negatives of the train and
    early-stopping slices are kept, each kept negative weighing ``1 / negative_rate``; the
    calibration and test slices are never stratified (above ``max_eval_rows`` each is a
    uniform random sample, which keeps its base rate)."""

    negative_rate: float | None = Field(
        None,
        gt=0,
        le=1,
        description="share of negatives kept; None: 1, or less so that the kept train and "
        "early-stopping rows fit max_train_rows",
    )
    max_train_rows: int = Field(
        4_000_000,
        ge=1_000,
        description="memory budget of the train + early-stopping rows (~1 KB each while fitting)",
    )
    max_eval_rows: int = Field(2_000_000, ge=1_000, description="calibration and test, each")


class TrainConfig(_Strict):
    seed: int = 7
    model_name: str = "contact-risk"
    experiment: str = "contactgate"
    horizon: Literal["7D"] = "7D"
    #: Sigmoid (Platt) keeps the booster's ranking: isotonic steps tie most of the riskiest
    #: contacts (64 distinct complaint scores; the top 1 % share 10), which cost ~10 % PR-AUC.
    calibration: Literal["auto", "isotonic", "sigmoid"] = "sigmoid"
    split: SplitConfig = SplitConfig()
    lightgbm: LightGBMConfig = LightGBMConfig()
    promotion: PromotionConfig = PromotionConfig()
    sampling: SamplingConfig = SamplingConfig()
    shap_sample: int = Field(2000, ge=100, le=100_000)
    #: Fewest positives of each target in each slice (train, early stopping, calibration,
    #: test) for training to go ahead: below it a fit, a calibration or a metric is noise.
    min_positives: int = Field(10, ge=2)


def load_config(path: str | Path | None) -> TrainConfig:
    """Read a YAML/JSON config file (None → defaults); errors name the file and key."""
    if path is None:
        return TrainConfig()
    path = Path(path)
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of settings")
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(f"{path}: invalid training config: {problems}") from exc

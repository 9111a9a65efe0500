"""The model a backtest scores with, and the guarantee that it never saw the window.

* :func:`train_before` trains with the project's training code and configuration
  (:mod:`training.data`, :class:`training.model.RiskModel`, :mod:`training.config`) on the
  events **strictly before** ``T0``: the events are cut at ``T0`` before the training frame is
  built, and the time split ends at ``T0`` (a contact is used only once its 7-day label window
  has closed before ``T0``).
* :func:`registered_model` loads a registered version and **refuses** one whose training
  data reaches ``T0`` or later (its run's ``data.end`` parameter), or whose run does not say
  where its data ended (fail closed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from serving.backtest.history import History
from training.config import TrainConfig


class LeakageError(ValueError):
    """A model whose training data overlaps the backtest window."""


@dataclass
class BacktestModel:
    model: object  # training.model.RiskModel
    source: str  # "trained" or "registered"
    data_end: pd.Timestamp  # the last event instant the model's training data held
    data_digest: str | None
    name: str | None = None
    version: str | None = None
    run_id: str | None = None
    rows: dict[str, int] | None = None


def events_before(history: History, t0: dt.datetime) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Events strictly before ``t0``, and the consent ledger as it stood then (grants after
    it dropped; revocations and confirmations after it not yet made)."""
    cut = pd.Timestamp(t0)
    events = history.events[history.events["ts"] < cut].reset_index(drop=True)
    consent = history.consent
    if consent is not None:
        consent = consent[consent["granted_at"] < cut].copy()
        for name in ("revoked_at", "confirmed_at"):
            if name in consent.columns:
                consent[name] = consent[name].where(consent[name] < cut)
        consent = consent.reset_index(drop=True)
    return events, consent


def train_before(
    history: History, t0: dt.datetime, cfg: TrainConfig, *, allow_small: bool = False, say=None
) -> BacktestModel:
    """A model trained only on what was known before ``t0``, with the steps of
    ``contactgate train`` (split plan, minimum positives, scaled LightGBM settings, fit);
    nothing is registered. Too few positives stop it as they stop training."""
    from features.pointintime import build_training_frame
    from training.data import check_positives, data_digest, plan_split, scaled_lightgbm
    from training.model import RiskModel

    events, consent = events_before(history, t0)
    if events.empty:
        raise ValueError(f"no events before --from {t0.isoformat()}: nothing to train on")
    frame = build_training_frame(events, consent)
    parts, plan = plan_split(frame, cfg, pd.Timestamp(t0))
    notes = check_positives(plan, cfg.min_positives, allow_small=allow_small)
    cfg, scaled = scaled_lightgbm(cfg, len(parts["train"]))
    for line in [*notes, *scaled]:
        if say is not None:
            say(line)
    model = RiskModel(params=cfg.lightgbm, calibration=cfg.calibration, seed=cfg.seed)
    model.fit(parts["train"], parts["early_stopping"], parts["calibration"])
    return BacktestModel(
        model=model,
        source="trained",
        data_end=events["ts"].max(),
        data_digest=data_digest(events),
        rows={name: len(part) for name, part in parts.items()},
    )


def check_training_end(data_end: str | None, t0: dt.datetime, what: str) -> pd.Timestamp:
    """The training data's end, or :class:`LeakageError` when it reaches ``t0`` or is unknown."""
    if not data_end:
        raise LeakageError(
            f"{what}: its run records no data.end parameter, so it cannot be shown to have "
            "been trained before --from; refusing it (train one with contactgate train, or "
            "leave out --model to train before --from)"
        )
    end = pd.Timestamp(data_end)
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    if end >= pd.Timestamp(t0):
        raise LeakageError(
            f"{what}: its training data reaches {end.isoformat()}, at or after --from "
            f"{pd.Timestamp(t0).isoformat()}; a backtest with it would score contacts it "
            "learned from. Choose a version trained before --from, or leave out --model"
        )
    return end


def registered_model(
    name: str, version: str, t0: dt.datetime, tracking_uri: str | None
) -> BacktestModel:
    """Registered version ``version`` of ``name``, refused when trained on data reaching ``t0``."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from training import tracking
    from training.model import RiskModel

    tracking.configure(tracking_uri)
    client = MlflowClient()
    what = f"model {name} version {version}"
    try:
        mv = client.get_model_version(name, version)
    except MlflowException as exc:
        raise ValueError(f"{what}: not found in the registry ({exc.message})") from exc
    run = client.get_run(mv.run_id)
    end = check_training_end(run.data.params.get("data.end"), t0, what)
    local = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{mv.version}")
    from pathlib import Path

    bundle = Path(local) / "artifacts" / "bundle"
    if not bundle.exists():
        raise FileNotFoundError(f"{what} holds no model bundle")
    return BacktestModel(
        model=RiskModel.load(bundle),
        source="registered",
        data_end=end,
        data_digest=(mv.tags or {}).get("data_digest") or run.data.tags.get("data_digest"),
        name=name,
        version=str(mv.version),
        run_id=mv.run_id,
    )

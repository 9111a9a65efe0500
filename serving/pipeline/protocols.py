"""What the pipeline needs of its collaborators, as typed seams (``Protocol``s).

The pipeline is written against these, not against concrete classes: the store
(:class:`serving.store.Store`), the compiled rule packs (:class:`serving.rules.RuleBook`) and
the registered model (``training.tracking.LoadedModel`` holding a
``training.model.RiskModel``) satisfy them, and so can anything a test builds by hand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import numpy as np

from serving.domain.state import HistoryEvent, NumberState, WorldState


class RiskModelLike(Protocol):
    """Calibrated probabilities per target from a feature matrix, and explanations."""

    feature_names: Sequence[str]
    models_: Mapping[str, Any]

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]: ...

    def contributions(self, x: np.ndarray, target: str) -> np.ndarray: ...


class DecisionModel(Protocol):
    """A registered model version: the risk model plus the name it was loaded under."""

    model: RiskModelLike
    name: str
    version: str
    alias: str | None


class RuleBookLike(Protocol):
    """Compiled rule packs; the engine's :func:`serving.rules.evaluate` reads them."""

    version: str


class NumberTransactionLike(Protocol):
    """One number's locked transaction (``authorize``)."""

    def recorded_attempt(self, event_id: str) -> dt.datetime | None: ...

    def world_state(self, at: dt.datetime) -> WorldState: ...

    def state_and_later(
        self, at: dt.datetime, until: dt.datetime, lookback_days: int = 400
    ) -> tuple[NumberState, Sequence[HistoryEvent]]: ...

    def record_contact(self, event: Any) -> bool: ...

    def append_decisions(self, rows: Sequence[Mapping[str, Any]]) -> int: ...


class DecisionStore(Protocol):
    """What the pipeline reads and writes in the store."""

    dialect: str

    def ping(self) -> None: ...

    def probe(self) -> None: ...

    def load_states(
        self, numbers: Sequence[str], at: dt.datetime, lookback_days: int = 400
    ) -> dict[str, NumberState]: ...

    def world_state(self, at: dt.datetime) -> WorldState: ...

    def number_lock(
        self, e164: str, wait_s: float | None = None
    ) -> AbstractContextManager[NumberTransactionLike]: ...

    def append_decisions(
        self, rows: Iterable[Mapping[str, Any]], *, wait_s: float | None = None
    ) -> int: ...

    def close(self) -> None: ...

"""What a policy would have avoided on history, and what it would have cost.

``contactgate backtest`` replays every outbound contact of a window ``[T0, T1)`` through the
service's rules (:mod:`serving.rules`) with each number's state as of the contact's
instant, scores it with a model that never saw the window (trained strictly before ``T0``
by default; a registered version trained on data reaching ``T0`` is refused), and compares
strategies on the same contacts: rules only, contact count, random, model risk at
thresholds, model plus budget (docs/backtest.md).

Modules: :mod:`~serving.backtest.history` (reading a history folder),
:mod:`~serving.backtest.replay` (pure: incremental as-of states, the rules),
:mod:`~serving.backtest.model` (the no-leakage model), :mod:`~serving.backtest.shards`
(a large history split by number, for bounded memory), :mod:`~serving.backtest.strategies`
(pure: counts, curve, bootstrap), :mod:`~serving.backtest.report` (plot, HTML) and
:mod:`~serving.backtest.run` (end to end, MLflow).
"""

from serving.backtest.history import History, load_history
from serving.backtest.model import (
    BacktestModel,
    LeakageError,
    check_training_end,
    events_before,
    registered_model,
    train_before,
)
from serving.backtest.replay import REPLAY_COLUMNS, Window, replay
from serving.backtest.run import BacktestOutput, run_backtest, scored_contacts
from serving.backtest.shards import SHARD_EVENTS, TRAIN_NUMBERS, Shards, split_history
from serving.backtest.strategies import (
    CURVE_SHARES,
    HEADLINE_SHARE,
    bootstrap_headline,
    counts,
    curve,
    evaluate_strategies,
    rankings,
)

__all__ = [
    "CURVE_SHARES",
    "HEADLINE_SHARE",
    "REPLAY_COLUMNS",
    "SHARD_EVENTS",
    "TRAIN_NUMBERS",
    "BacktestModel",
    "BacktestOutput",
    "History",
    "LeakageError",
    "Shards",
    "Window",
    "bootstrap_headline",
    "check_training_end",
    "counts",
    "curve",
    "evaluate_strategies",
    "events_before",
    "load_history",
    "rankings",
    "registered_model",
    "replay",
    "run_backtest",
    "scored_contacts",
    "split_history",
    "train_before",
]

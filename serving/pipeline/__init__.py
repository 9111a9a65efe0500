"""The decision pipeline: store read → features → model → rules → decision → audit.

One pipeline serves the HTTP ``screen`` and ``authorize`` APIs and batch screening of files.
"""

from serving.pipeline.authorize import AtOutOfRange
from serving.pipeline.regions import with_default_region
from serving.pipeline.resources import (
    RETRY_AFTER_S,
    ChampionFollower,
    ChunkedCollection,
    Resources,
    load_resources,
    serving_resources,
    settle_heap,
    smoke_check,
)
from serving.pipeline.screen import (
    AUTHORIZE_LOCK_WAIT_S,
    AUTHORIZE_SKEW,
    DEFAULT_LOOKBACK_DAYS,
    Outcome,
    Screener,
    screen_response,
)

__all__ = [
    "AUTHORIZE_LOCK_WAIT_S",
    "AUTHORIZE_SKEW",
    "AtOutOfRange",
    "ChampionFollower",
    "ChunkedCollection",
    "DEFAULT_LOOKBACK_DAYS",
    "RETRY_AFTER_S",
    "Outcome",
    "Resources",
    "Screener",
    "load_resources",
    "screen_response",
    "serving_resources",
    "settle_heap",
    "smoke_check",
    "with_default_region",
]

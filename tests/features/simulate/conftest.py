"""Fixtures of the simulator tests: one simulated history shared by the package's modules."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features import simulate as sim
from tests.support.simulate import reference_labels


@pytest.fixture(scope="package")
def big(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """20 000 numbers × 180 days (≈ 190 k contacts): enough complaints to test the hazard."""
    out = tmp_path_factory.mktemp("sim_big")
    return sim.simulate_to_dir(out, numbers=20_000, days=180, seed=11, progress=False)


@pytest.fixture(scope="package")
def events(big: dict[str, Path]) -> pd.DataFrame:
    return pd.read_parquet(big["events"])


@pytest.fixture(scope="package")
def labelled(events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return reference_labels(events)

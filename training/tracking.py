"""MLflow: where runs and models live, registering bundles, aliases, loading the champion.

Nothing here runs at import; :func:`configure` is called explicitly by the commands that
need MLflow. The default store is SQLite under ``models/`` with artifacts beside it.

Registry layout: ONE registered model (default ``contact-risk``) whose versions are bundles
holding both targets (see :mod:`training.model`), so a decision names one model version and
both probabilities always come from the same training run. New versions get the alias
``challenger``; ``champion`` moves only through :mod:`training.promote`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

from features.paths import MODELS_DIR

CHAMPION = "champion"
CHALLENGER = "challenger"


def default_tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{MODELS_DIR / 'mlflow.db'}"


def artifact_root_for(uri: str) -> str | None:
    """Artifacts beside a SQLite tracking DB (MLflow would otherwise use ./mlruns of the CWD)."""
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite":
        return None
    db_path = Path(uri.split("sqlite:///", 1)[1])
    return (db_path.parent / "artifacts").resolve().as_uri()


def configure(uri: str | None = None) -> str:
    """Point MLflow (tracking and registry) at ``uri`` or the default store.

    MLflow's usage telemetry stays off (set before MLflow is first imported by any path
    that tracks or loads a model; the command line and the service set it earlier still).
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    uri = uri or default_tracking_uri()
    if uri.startswith("sqlite:///"):
        Path(uri.split("sqlite:///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def tracking_uri() -> str:
    """The tracking URI MLflow is configured with now."""
    import mlflow

    return mlflow.get_tracking_uri()


def ensure_experiment(name: str) -> str:
    import mlflow

    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    return mlflow.create_experiment(
        name, artifact_location=artifact_root_for(mlflow.get_tracking_uri())
    )


try:  # the pyfunc wrapper is only needed where mlflow is importable (always, in practice)
    import mlflow.pyfunc

    class RiskPyfunc(mlflow.pyfunc.PythonModel):
        """Generic MLflow entry point: features in, calibrated probabilities out."""

        def load_context(self, context) -> None:  # noqa: ANN001
            from training.model import RiskModel

            self.model = RiskModel.load(context.artifacts["bundle"])

        def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # noqa: ANN001
            out = self.model.predict(model_input)
            return pd.DataFrame(
                {
                    "p_complaint": out["complaint_7d"],
                    "p_opt_out": out["opt_out_7d"],
                    "risk": out["risk"],
                }
            )

except ImportError:  # pragma: no cover
    RiskPyfunc = None  # type: ignore[assignment,misc]


def pyfunc_entry() -> str:
    """The file MLflow logs as the registered model's code (``python_model=``)."""
    return str(Path(__file__).with_name("pyfunc_entry.py"))


def pip_requirements() -> list[str]:
    """Pinned explicitly: letting MLflow infer them costs ~4 s per log_model."""
    import lightgbm
    import mlflow
    import numpy
    import sklearn

    return [
        f"mlflow=={mlflow.__version__}",
        f"lightgbm=={lightgbm.__version__}",
        f"numpy=={numpy.__version__}",
        f"pandas=={pd.__version__}",
        f"scikit-learn=={sklearn.__version__}",
    ]


@dataclass(frozen=True)
class LoadedModel:
    model: object  # training.model.RiskModel
    name: str
    version: str
    alias: str | None
    run_id: str


def download_bundle(
    name: str, alias: str = CHAMPION, dst: str | Path | None = None, uri: str | None = None
) -> tuple[Path, str, str]:
    """Fetch a registered bundle; return (bundle dir, version, run id). ``uri``: read that
    registry without changing MLflow's process-wide URI (default: the configured one)."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    mv = client.get_model_version_by_alias(name, alias)
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{name}/{mv.version}",
        dst_path=str(dst) if dst else None,
        tracking_uri=uri,
        registry_uri=uri,
    )
    bundle = Path(local) / "artifacts" / "bundle"
    if not bundle.exists():
        raise FileNotFoundError(f"models:/{name}@{alias} (version {mv.version}) holds no bundle")
    return bundle, str(mv.version), mv.run_id


def load_model(
    name: str = "contact-risk", alias: str = CHAMPION, uri: str | None = None
) -> LoadedModel:
    """The registered bundle behind ``models:/name@alias``, with native LightGBM boosters
    (``uri``: as in :func:`download_bundle`)."""
    from training.model import RiskModel

    bundle, version, run_id = download_bundle(name, alias, uri=uri)
    return LoadedModel(RiskModel.load(bundle), name, version, alias, run_id)


def alias_version(name: str, alias: str, uri: str | None = None) -> str | None:
    """The version ``alias`` points at (None: no such alias). ``uri``: ask that registry
    without touching the process-wide MLflow URI (a background thread must not move it
    under a training run); None: the configured one."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=uri, registry_uri=uri) if uri else MlflowClient()
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def promote_command(name: str, uri: str, config: str | Path | None = None) -> str:
    """The exact ``contactgate promote`` command for this registry (shell-quoted), so the
    next step never falls back to another store by default."""
    import shlex

    parts = ["contactgate", "promote", "--tracking-uri", uri]
    if name != "contact-risk":
        parts += ["--model", name]
    if config is not None:
        parts += ["--config", str(config)]
    return shlex.join(parts)


def describe(uri: str, name: str, alias: str, version: str | None) -> str:
    """One line naming a model: where, which name, alias and version (None: no such alias)."""
    found = f"version {version}" if version is not None else "no version"
    return f"model: {name}@{alias} → {found} (tracking URI {mask_uri(uri)})"


def mask_uri(uri: str) -> str:
    """A URI with any password replaced by ``***`` (for messages and logs)."""
    import re

    return re.sub(r"(://[^/:@]+:)[^@/]+@", r"\1***@", uri)

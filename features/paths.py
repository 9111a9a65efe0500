"""Where things live, computed from the package location (never from the working directory)."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
GENERATED_DIR = DATA_DIR / "generated"
MODELS_DIR = PROJECT_ROOT / "models"

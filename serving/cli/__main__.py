"""Command-line entry point: ``python -m serving.cli``."""

from serving.cli import main

raise SystemExit(main())

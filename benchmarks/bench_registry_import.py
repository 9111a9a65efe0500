"""Benchmark: `contactgate registry import` of a 5 M-number file (time, peak memory).

Generates a file of random, fictional but valid US numbers (mixed formats, plus 0.1 %
junk lines to exercise reject reporting) in a temp dir — never committed, deleted at the
end — and imports it into a fresh SQLite store in a subprocess, sampling the resident
memory of the whole process tree (main process + normalising workers).

    .venv/bin/python benchmarks/bench_registry_import.py [--numbers 5000000] [--workers 2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent


def write_numbers(path: Path, count: int, seed: int = 5) -> int:
    """Write ``count`` lines; returns how many are junk. Chunked: memory stays small."""
    from features.phone import area_code_subdivisions

    area_codes = np.array(
        sorted(a for a, s in area_code_subdivisions().items() if s.startswith("US-"))
    )
    rng = np.random.default_rng(seed)
    junk = 0
    with path.open("w") as fh:
        for start in range(0, count, 500_000):
            n = min(500_000, count - start)
            npa = rng.choice(area_codes, n)
            nxx = rng.integers(200, 1000, n)
            line = rng.integers(0, 10_000, n)
            style = rng.integers(0, 1000, n)
            out = []
            for a, b, c, s in zip(
                npa.tolist(), nxx.tolist(), line.tolist(), style.tolist(), strict=True
            ):
                if s == 0:
                    out.append(f"REF-{b}{c}")  # junk
                    junk += 1
                elif s < 400:
                    out.append(f"+1{a}{b:03d}{c:04d}")
                elif s < 700:
                    out.append(f"{a}-{b:03d}-{c:04d}")
                else:
                    out.append(f"({a}) {b:03d}-{c:04d}")
            fh.write("\n".join(out) + "\n")
    return junk


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a worker may exit between the calls
            total += p.memory_info().rss
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=5_000_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from serving.store.keys import ENCRYPTION_ENV, HMAC_ENV, new_key

    with tempfile.TemporaryDirectory(prefix="bench-registry-") as tmp:
        tmpdir = Path(tmp)
        path = tmpdir / "us_dnc.txt"
        t0 = time.perf_counter()
        junk = write_numbers(path, args.numbers)
        gen_s = time.perf_counter() - t0
        env = {**os.environ, HMAC_ENV: new_key(), ENCRYPTION_ENV: new_key()}
        db = tmpdir / "store.db"
        cmd = [
            sys.executable, "-m", "serving.cli", "registry", "import", "US_NATIONAL_DNC", str(path),
            "--as-of", "2026-06-10T00:00:00Z", "--db", f"sqlite:///{db}", "--quiet",
            "--workers", str(args.workers),
        ]  # fmt: skip
        t0 = time.perf_counter()
        proc = psutil.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        peak = peak_main = 0
        while proc.poll() is None:
            peak = max(peak, tree_rss(proc))
            with contextlib.suppress(psutil.Error):
                peak_main = max(peak_main, proc.memory_info().rss)
            time.sleep(0.2)
        elapsed = time.perf_counter() - t0
        output = proc.stdout.read() if proc.stdout else ""
        if proc.returncode != 0:
            print(output)
            return proc.returncode
        rejects = path.with_name("us_dnc.rejects.csv")
        rejected = sum(1 for _ in rejects.open()) - 1 if rejects.exists() else 0
        size_mb = path.stat().st_size / 1e6
        db_mb = sum(p.stat().st_size for p in tmpdir.glob("store.db*")) / 1e6
    print(output.strip())
    print()
    print(f"{'numbers':<28}{args.numbers:>14,}")
    print(f"{'file size (MB)':<28}{size_mb:>14.1f}")
    print(f"{'generate file (s)':<28}{gen_s:>14.1f}")
    print(f"{'import wall time (s)':<28}{elapsed:>14.1f}")
    print(f"{'numbers/s':<28}{args.numbers / elapsed:>14,.0f}")
    print(f"{'peak RSS, process tree (MB)':<28}{peak / 1e6:>14.0f}")
    print(f"{'peak RSS, main process (MB)':<28}{peak_main / 1e6:>14.0f}")
    print(f"{'junk lines written':<28}{junk:>14,}")
    print(f"{'rejects reported':<28}{rejected:>14,}")
    print(f"{'store size (MB)':<28}{db_mb:>14.1f}")
    print(f"{'workers':<28}{args.workers:>14}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

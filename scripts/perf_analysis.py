"""Time ``calnas analyze`` on a full-size table against the study's pandas way (issue 16).

Builds (or reuses, ``--keep DIR``) the full-size store of ``scripts/perf_bench.py``: the six
published tables' shape (TSS 15,625 rows and SSS 32,768 rows on cifar10, cifar100 and
ImageNet16-120, all 154 published columns, random values). Then prints:

- **question (i)'s 21x21 matrix**: the seven metrics on the three TSS datasets, merged on config
  as the notebook ``q1.ipynb`` does, Kendall tau-b over all 15,625 rows: ``kendall_matrix``
  against ``DataFrame.corr(method="kendall")`` (best of ``--repeats`` each; the two must agree to
  1e-12), and the ratio (issue 16's goal: >= 20x). ``--pandas-python PATH`` also times pandas'
  way in another interpreter (say one with pandas 2.x, the study's era, whose Kendall loop is
  quadratic in the rows; pandas 3.1 replaced it with a merge sort);
- **calnas analyze all**, end to end in a new process (imports, reading the six tables, every
  question, the figures, the report), with its per-question seconds (goal: < 60 s on 2 cores).

Usage:
    python scripts/perf_analysis.py [--keep DIR] [--repeats 5] [--threads 2]
    python scripts/perf_analysis.py --pandas-python /tmp/pandas22/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from perf_bench import build  # noqa: E402  (the one full-size builder)

from bench.analysis.kendall import kendall_matrix  # noqa: E402
from bench.analysis.questions import SEVEN_METRICS  # noqa: E402
from bench.fileio import atomic_write_text  # noqa: E402

DATASETS = ("ImageNet16-120", "cifar10", "cifar100")

_PEER = """
import sys, time, numpy as np, pandas as pd
mat = np.load(sys.argv[1]); best = float("inf")
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    pd.DataFrame(mat).corr(method="kendall")
    best = min(best, time.perf_counter() - t)
print(pd.__version__, best)
"""


def _best(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def matrix_21(bench_dir: Path):
    """The notebook's frame: seven metrics x three datasets, outer-merged on config."""
    import pandas as pd

    from bench import Benchmark

    bench = Benchmark.open(bench_dir, demo=False)
    parts = []
    for ds in DATASETS:
        f = bench.frame("tss", ds, list(SEVEN_METRICS), source="official")
        parts.append(f.set_index("config")[list(SEVEN_METRICS)].add_prefix(f"{ds}|"))
    return pd.concat(parts, axis=1, join="outer")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="build the store in this folder and keep it (reused)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each timing (best shown)")
    parser.add_argument("--pandas-python", help="also time pandas' way in this interpreter")
    parser.add_argument("--skip-all", action="store_true", help="only the 21x21 matrix")
    parser.add_argument("--json", help="write the figures to this file too")
    args = parser.parse_args(argv)
    figures: dict[str, object] = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        t = time.perf_counter()
        if (root / "built").is_file():
            bench_dir = root / "bench"
        else:
            root.mkdir(parents=True, exist_ok=True)
            bench_dir, _ = build(root)
            atomic_write_text(root / "built", "ok\n")
        print(f"full-size store: {bench_dir} ({time.perf_counter() - t:.1f} s to build or find)")

        frame = matrix_21(bench_dir)
        mat = frame.to_numpy(dtype=np.float64)
        print(
            f"\nquestion (i): {mat.shape[1]}x{mat.shape[1]} Kendall tau-b over "
            f"{mat.shape[0]:,} rows (best of {args.repeats})"
        )
        ours, km = _best(lambda: kendall_matrix(mat), args.repeats)
        theirs, ref = _best(lambda: frame.corr(method="kendall"), args.repeats)
        import pandas as pd

        diff = float(np.nanmax(np.abs(km.tau - ref.to_numpy())))
        print(f"  calnas kendall_matrix                    {ours:8.3f} s")
        print(
            f"  pandas {pd.__version__:8s} DataFrame.corr(kendall)  {theirs:8.3f} s   "
            f"ratio {theirs / ours:5.1f}x   (max |difference| {diff:.1e})"
        )
        figures.update(
            {
                "rows": mat.shape[0],
                "ours_s": ours,
                "pandas_s": theirs,
                "pandas": pd.__version__,
                "ratio": theirs / ours,
                "max_diff": diff,
            }
        )
        if args.pandas_python:
            npy = Path(tmp) / "m21.npy"
            np.save(npy, mat)
            out = subprocess.run(
                [args.pandas_python, "-c", _PEER, str(npy), str(max(1, min(args.repeats, 2)))],
                capture_output=True,
                text=True,
                check=True,
            )
            version, secs = out.stdout.split()
            peer = float(secs)
            print(
                f"  pandas {version:8s} DataFrame.corr(kendall)  {peer:8.3f} s   "
                f"ratio {peer / ours:5.1f}x   (in {args.pandas_python})"
            )
            figures.update({"peer_pandas": version, "peer_s": peer, "peer_ratio": peer / ours})

        if not args.skip_all:
            out_dir = Path(tmp) / "analyze"
            cmd = [
                sys.executable,
                "-m",
                "search",
                "analyze",
                "all",
                "--bench",
                str(bench_dir),
                "--source",
                "official",
                "--out",
                str(out_dir),
                "--format",
                "json",
            ]
            t = time.perf_counter()
            run = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
            wall = time.perf_counter() - t
            summary = json.loads(run.stdout)
            print(
                f"\ncalnas analyze all (new process, full-size table): {wall:.1f} s wall "
                f"on {os.cpu_count()} CPUs (goal < 60 s)"
            )
            for q, s in summary["seconds"].items():
                print(f"  {q:12s} {s:6.2f} s")
            size = sum(p.stat().st_size for p in out_dir.iterdir()) / 1e6
            print(f"  {summary['files']} files, {size:.1f} MB")
            figures.update({"all_s": wall, "per_question_s": summary["seconds"]})
    if args.json:
        atomic_write_text(args.json, json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Time enumerating, encoding and canonicalizing both spaces, beside a plain per-arch loop.

Each measurement runs in a fresh interpreter so that nothing is cached. The peer is what one
writes without calnas: build each arch string, parse it, one-hot encode it, and compute its
NATS canonical string, one architecture at a time.

    python scripts/perf_spaces.py
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

CALNAS = textwrap.dedent(
    """
    import time
    t0 = time.perf_counter()
    from bench.arch.spaces import get_space
    for name in ("tss", "sss"):
        s = get_space(name)
        s.archs()
        s.encode_all("onehot")
        s.encode_all(s.encodings[0])
        s.unique_indices()
    print(time.perf_counter() - t0)
    """
)

LOOP = textwrap.dedent(
    """
    import itertools, random, time
    import numpy as np
    t0 = time.perf_counter()
    OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]

    def unique_str(ops):
        reps, e = ["0"], 0
        for node in (1, 2, 3):
            terms = []
            for src in range(node):
                op = ops[e]; e += 1
                if op == "none" or reps[src] == "#":
                    terms.append("#")
                elif op == "skip_connect":
                    terms.append(reps[src])
                else:
                    terms.append("(" + reps[src] + ")@" + op)
            reps.append("+".join(sorted(terms)))
        return reps[3]

    archs = []
    for combo in itertools.product(OPS, repeat=6):
        o = combo
        archs.append(f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|")
    random.seed(88); random.shuffle(archs)
    classes = {}
    for arch in archs:
        ops = [t.split("~")[0] for node in arch.split("+") for t in node.strip("|").split("|")]
        onehot = np.zeros((6, 5), dtype=np.float32)
        for e, op in enumerate(ops):
            onehot[e, OPS.index(op)] = 1
        classes.setdefault(unique_str(ops), len(classes))
    widths = [8, 16, 24, 32, 40, 48, 56, 64]
    for combo in itertools.product(widths, repeat=5):
        arch = ":".join(map(str, combo))
        chans = [int(c) for c in arch.split(":")]
        onehot = np.zeros((5, 8), dtype=np.float32)
        for k, c in enumerate(chans):
            onehot[k, widths.index(c)] = 1
    assert len(classes) == 6466
    print(time.perf_counter() - t0)
    """
)


def _time(code: str, repeats: int = 3) -> float:
    runs = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        runs.append(float(out.stdout.strip()))
    return min(runs)


def main() -> None:
    calnas, loop = _time(CALNAS), _time(LOOP)
    print("enumerate + encode (one-hot and ops/channels) + canonicalize, TSS 15,625 and SSS 32,768")
    print(f"{'calnas (bench.arch.spaces, cold process)':40s} {calnas * 1000:8.1f} ms")
    print(f"{'plain per-arch Python loop':40s} {loop * 1000:8.1f} ms")
    print(f"{'ratio loop / calnas':40s} {loop / calnas:8.2f} x")
    print(f"target: calnas under 1000 ms -> {'met' if calnas < 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()

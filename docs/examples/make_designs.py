"""Write a JSON list of random 7-layer TiO2/SiO2 designs on N-BK7 (the simulate batch example).

    python docs/examples/make_designs.py                      # docs/examples/designs-10000.json
    python docs/examples/make_designs.py --count 100 --out d.json

Thicknesses are drawn uniformly from 20-200 nm with a fixed seed, so the file is the same on
every machine.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def designs(count: int, layers: int, seed: int) -> list[dict]:
    """``count`` designs of ``layers`` alternating TiO2/SiO2 layers, air over N-BK7."""
    rng = np.random.default_rng(seed)
    d_BxL = rng.uniform(20.0, 200.0, size=(count, layers)).round(1)
    names = ["TiO2" if i % 2 == 0 else "SiO2" for i in range(layers)]
    return [{"incident": "air", "substrate": "N-BK7",
             "layers": [{"material": m, "thickness_nm": float(t)} for m, t in zip(names, d_L)]}
            for d_L in d_BxL]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--layers", type=int, default=7)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(Path(__file__).with_name("designs-10000.json")))
    args = p.parse_args()
    Path(args.out).write_text(json.dumps(designs(args.count, args.layers, args.seed)))
    print(f"wrote {args.count} designs to {args.out}")


if __name__ == "__main__":
    main()

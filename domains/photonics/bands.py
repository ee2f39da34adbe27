"""Reference wavelengths: where goals sit in the spectrum, and the band kept for the
out-of-distribution check (no pretraining pair and no generated goal has its reference there)."""

from __future__ import annotations

import math

import numpy as np

REF_NM = (280.0, 2200.0)  # reference wavelengths of pretraining pairs and moved generated goals
OOD_NM = (1150.0, 1450.0)  # reference wavelengths no pretraining pair or generated goal uses


def reference(rng: np.random.Generator) -> float:
    """A reference wavelength [nm], log-uniform over REF_NM, never inside OOD_NM."""
    while True:
        ref = math.exp(rng.uniform(math.log(REF_NM[0]), math.log(REF_NM[1])))
        if not OOD_NM[0] <= ref <= OOD_NM[1]:
            return ref


def reference_of(targets: list[dict]) -> float:
    """A goal's reference wavelength: the geometric centre of its targets' wavelengths."""
    wl = [w for t in targets for w in np.atleast_1d(t["wavelength_nm"])]
    return math.sqrt(min(wl) * max(wl))

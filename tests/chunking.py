"""Ways to cut a stream into chunks for the chunk-invariance tests.

Feeding one sample at a time over a whole recording costs a Python call per sample (seconds per
test) and finds little that irregular chunks do not: :func:`irregular` gives lone samples, every
size up to ``most`` and boundaries at every phase of the signal, for a fraction of the calls;
:func:`lone_samples_then_rest` keeps true one-sample feeding over the stretch where the detector
starts up, then hands the rest on in one piece.
"""

from __future__ import annotations

import numpy as np


def irregular(n: int, seed: int = 0, most: int = 25) -> list[slice]:
    """Slices covering ``range(n)`` in chunks of 1 to ``most`` samples, sizes drawn (seeded)."""
    sizes = np.random.default_rng(seed).integers(1, most + 1, size=n)
    ends = np.cumsum(sizes)
    edges = [0, *ends[ends < n].tolist(), n]
    return [slice(a, b) for a, b in zip(edges, edges[1:])]


def regular(n: int, size: int) -> list[slice]:
    """Slices covering ``range(n)`` in chunks of ``size`` (the last may be shorter)."""
    return [slice(a, min(a + size, n)) for a in range(0, n, size)]


def lone_samples_then_rest(n: int, lone: int) -> list[slice]:
    """The first ``lone`` samples one at a time, then the rest as one chunk."""
    first = [slice(i, i + 1) for i in range(min(lone, n))]
    return first + ([slice(lone, n)] if n > lone else [])

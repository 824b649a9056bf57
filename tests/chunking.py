"""Ways to cut a stream into chunks for the chunk-invariance tests.

Feeding one sample at a time over a whole recording costs a Python call per sample (seconds per
test) and finds little that irregular chunks do not: :func:`irregular` gives lone samples, every
size up to ``most`` and boundaries at every phase of the signal, for a fraction of the calls;
:func:`lone_samples_in` keeps true one-sample feeding where it matters (the start-up, an event),
the rest in a few pieces.
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


def lone_samples_in(n: int, *windows: tuple[int, int]) -> list[slice]:
    """Slices covering ``range(n)``: one sample at a time inside each ``(start, stop)`` window
    (sorted, not overlapping), the stretches between them as one chunk each."""
    out: list[slice] = []
    at = 0
    for a, b in windows:
        a, b = max(a, at), min(b, n)
        if a > at:
            out.append(slice(at, a))
        out.extend(slice(i, i + 1) for i in range(a, b))
        at = max(at, b)
    if at < n:
        out.append(slice(at, n))
    return out

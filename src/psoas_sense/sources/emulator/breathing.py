"""What the emulated strap measures: chest acceleration and heartbeats over session time.

Synthetic (seeded chunks of :func:`psoas_sense.simulate.synthesize`, generated as the session
needs them) or read from a recording or CSV, looped.
"""

from __future__ import annotations

import numpy as np

from psoas_sense.errors import PsoasError
from psoas_sense.simulate import Breather, synthesize
from psoas_sense.sources.emulator.options import EmulatorOptions

SYNTH_CHUNK_S = 300.0
"""The synthetic breather is generated in chunks of this length, as the session needs them."""
CHUNKS_KEPT_BEHIND = 1
"""Chunks kept before the one being made (older ones are dropped, made again if ever asked for)."""
SYNTH_RATE_HZ = 200.0
MOVE_SWAY_MG = 250.0
"""Body motion (``move_at``): a sway of this amplitude..."""
MOVE_SWAY_HZ = 1.3
"""... at this frequency (a roll, a sit-up: well above breathing), ..."""
MOVE_NOISE_MG = 80.0
"""... plus jolts of this size."""


class BreathingSignal:
    """Chest acceleration (mG, with gravity) and heartbeats over session time, generated lazily.

    Synthetic (seeded chunks of :func:`synthesize`) or from a recording (looped).
    """

    def __init__(self, opts: EmulatorOptions) -> None:
        self._opts = opts
        self._acc_chunks: dict[int, np.ndarray] = {}
        self._beats: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.exhale_onsets_s: list[float] = []
        self._k_max = -1
        """The newest chunk made so far (its onsets are listed once, even if it is made again)."""
        self._rec: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float] | None = None
        if opts.recording:
            self._rec = self._load_recording(opts.recording)

    @staticmethod
    def _load_recording(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
        from psoas_sense.decode import NotificationDecoder
        from psoas_sense.model import AccFrame, Notification, RRFrame
        from psoas_sense.recording.importers import load_input

        _, items = load_input(path)
        dec = NotificationDecoder()
        acc_t: list[np.ndarray] = []
        acc_v: list[np.ndarray] = []
        beat_t: list[np.ndarray] = []
        rr: list[np.ndarray] = []
        for _, item in items:
            frames = dec.decode(item) if isinstance(item, Notification) else [item]
            for fr in frames:
                if isinstance(fr, AccFrame):
                    acc_t.append(fr.t_s)
                    acc_v.append(fr.acc_mg)
                elif isinstance(fr, RRFrame):
                    beat_t.append(fr.t_s)
                    rr.append(fr.rr_ms)
        if not acc_t and not beat_t:
            raise PsoasError(f"{path}: no accelerometer or RR data to drive the emulated strap")
        at = np.concatenate(acc_t) if acc_t else np.zeros(0)
        av = np.concatenate(acc_v) if acc_v else np.zeros((0, 3))
        bt = np.concatenate(beat_t) if beat_t else np.zeros(0)
        rv = np.concatenate(rr) if rr else np.zeros(0)
        t0 = min([x[0] for x in (at, bt) if x.size])
        span = max([x[-1] for x in (at, bt) if x.size]) - t0
        return at - t0, av, bt - t0, rv, max(span, 1.0)

    def _synth_chunk(self, k: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        syn = synthesize(
            SYNTH_CHUNK_S,
            seed=self._opts.seed * 1000 + k,
            breather=Breather(rate_bpm=self._opts.rate_bpm, hr_bpm=self._opts.hr_bpm),
            fs_hz=SYNTH_RATE_HZ,
            gravity_axis=np.array([0.1, -0.2, 1.0]),
            breathing_axis=np.array([0.9, 0.3, 0.1]),
        )
        off = k * SYNTH_CHUNK_S
        if k > self._k_max:
            self.exhale_onsets_s.extend(float(x) + off for x in syn.exhale_onsets_s)
        return syn.acc_mg, (syn.beat_t_s + off, syn.rr_ms)

    def _moved(self, k: int, acc: np.ndarray) -> np.ndarray:
        """The chunk's acceleration with the wearer's movements (``move_at``) added."""
        if not self._opts.move_at_s:
            return acc
        t = k * SYNTH_CHUNK_S + np.arange(acc.shape[0]) / SYNTH_RATE_HZ
        acc = acc.copy()
        for i, t0 in enumerate(self._opts.move_at_s):
            m = (t >= t0) & (t < t0 + self._opts.move_for_s)
            if not m.any():
                continue
            rng = np.random.default_rng([self._opts.seed, 7, i])
            axis = rng.standard_normal(3)
            axis /= np.linalg.norm(axis)
            tm = t[m] - t0
            sway = MOVE_SWAY_MG * np.sin(2 * np.pi * MOVE_SWAY_HZ * tm)
            acc[m] += sway[:, None] * axis[None, :] + MOVE_NOISE_MG * rng.standard_normal((int(m.sum()), 3))
        return acc

    def _chunk(self, k: int) -> None:
        if k in self._acc_chunks:
            return
        for old in [j for j in self._acc_chunks if j < k - CHUNKS_KEPT_BEHIND]:  # bounded: hours take
            del self._acc_chunks[old]  # no more memory than minutes (a chunk comes back the same)
            self._beats.pop(old, None)
        self._make_chunk(k)
        self._k_max = max(self._k_max, k)

    def _make_chunk(self, k: int) -> None:
        if self._rec is None:
            acc, beats = self._synth_chunk(k)
            self._acc_chunks[k] = self._moved(k, acc)
            self._beats[k] = beats
            return
        at, av, bt, rv, span = self._rec
        t = k * SYNTH_CHUNK_S + np.arange(int(SYNTH_CHUNK_S * SYNTH_RATE_HZ)) / SYNTH_RATE_HZ
        if at.size:
            tt = np.mod(t, span)
            acc = np.stack([np.interp(tt, at, av[:, i]) for i in range(3)], axis=1)
        else:
            acc = np.tile(np.array([0.0, 0.0, 1000.0]), (t.size, 1))
        self._acc_chunks[k] = self._moved(k, acc)
        t0, t1 = k * SYNTH_CHUNK_S, (k + 1) * SYNTH_CHUNK_S
        if bt.size:
            reps = range(int(t0 // span), int(t1 // span) + 1)
            allb = np.concatenate([bt + r * span for r in reps])
            allr = np.concatenate([rv for _ in reps])
            m = (allb >= t0) & (allb < t1)
            self._beats[k] = (allb[m], allr[m])
        else:
            self._beats[k] = (np.zeros(0), np.zeros(0))

    def acc(self, i0: int, i1: int, rate_hz: float) -> np.ndarray:
        """ACC samples i0..i1-1 of a stream at ``rate_hz`` (sample i at time i / rate)."""
        step = SYNTH_RATE_HZ / rate_hz
        idx = np.rint(np.arange(i0, i1) * step).astype(np.int64)
        n_per = int(SYNTH_CHUNK_S * SYNTH_RATE_HZ)
        out = np.empty((idx.size, 3))
        chunk_of = idx // n_per
        for k in np.unique(chunk_of):
            self._chunk(int(k))
            m = chunk_of == k
            out[m] = self._acc_chunks[int(k)][idx[m] - int(k) * n_per]
        return out

    def beats(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        """Beat times in (t0, t1] and the RR interval ending at each, ms."""
        ks = range(int(max(t0, 0) // SYNTH_CHUNK_S), int(max(t1, 0) // SYNTH_CHUNK_S) + 1)
        bt_l, rr_l = [], []
        for k in ks:
            self._chunk(k)
            b, r = self._beats[k]
            m = (b > t0) & (b <= t1)
            bt_l.append(b[m])
            rr_l.append(r[m])
        return np.concatenate(bt_l), np.concatenate(rr_l)


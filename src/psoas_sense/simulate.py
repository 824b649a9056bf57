"""Seeded synthetic breathers with known phase changes, for tests, the emulator and demos.

Pure: a ``numpy.random.Generator`` seeded by the caller; no global RNG, no clock.

The lung volume is built breath by breath: each breath has an inhale of ``ti`` seconds (a
half-cosine rise), an exhale of ``te`` seconds (a half-cosine fall) and an optional end-expiratory
pause. The exhale onset of each breath (end of inspiration) and inhale onset are returned as
ground truth. From the volume come a belt signal, a chest accelerometer and RR intervals with
respiratory sinus arrhythmia (heart rate higher while breathing in).

The accelerometer is modelled as a real one on the chest: gravity, plus the breathing *tilt* of
the chest wall (the gravity vector seen by the sensor turns a little, so the change is
perpendicular to gravity), plus the breathing *lift* (the chest wall rising against gravity on the
inhale; its acceleration is the second derivative of that height, along gravity), heartbeat
ripple and noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

G_MG = 1000.0


@dataclass(frozen=True)
class Breather:
    """Parameters of a synthetic breather."""

    rate_bpm: float = 12.0
    """Mean breathing rate, breaths per minute."""
    ie_ratio: float = 0.67
    """Inhale duration / exhale duration (1:1.5 by default)."""
    pause_share: float = 0.0
    """Share of each breath spent in an end-expiratory pause (taken from the exhale)."""
    rate_jitter: float = 0.08
    """Relative breath-to-breath variation of the period."""
    amplitude_jitter: float = 0.1
    """Relative breath-to-breath variation of the depth."""
    holds: tuple[tuple[float, float], ...] = ()
    """Breath holds as ``(start_s, duration_s)``: no breathing movement during them."""
    hr_bpm: float = 65.0
    """Mean heart rate."""
    rsa_bpm: float = 6.0
    """Peak-to-peak heart-rate swing with breathing."""


@dataclass(frozen=True)
class Synthetic:
    """A synthetic recording with its ground truth."""

    fs_hz: float
    t_s: np.ndarray
    volume: np.ndarray
    """Lung volume, arbitrary units (0 = end of exhale), larger = more air in."""
    resp: np.ndarray
    """Belt signal: volume + baseline wander + noise."""
    acc_mg: np.ndarray
    """Chest accelerometer, (n, 3) mG, including gravity."""
    beat_t_s: np.ndarray
    """Times of heartbeats."""
    rr_ms: np.ndarray
    """RR interval ending at each beat."""
    exhale_onsets_s: np.ndarray
    """True times at which breathing out starts."""
    inhale_onsets_s: np.ndarray
    """True times at which breathing in starts."""
    breathing_axis: np.ndarray = field(default_factory=lambda: np.zeros(3))
    """Unit vector along which the breathing motion appears in the accelerometer."""


def _volume(t: np.ndarray, b: Breather, rng: np.random.Generator) -> tuple[np.ndarray, list[float], list[float]]:
    vol = np.zeros_like(t)
    ex: list[float] = []
    inh: list[float] = []
    period0 = 60.0 / b.rate_bpm
    tcur = float(rng.uniform(0.0, 0.5 * period0))
    end = float(t[-1])
    holds = sorted(b.holds)
    while tcur < end:
        for hs, hd in holds:
            if hs <= tcur < hs + hd:
                tcur = hs + hd
        period = period0 * float(np.clip(1.0 + b.rate_jitter * rng.standard_normal(), 0.6, 1.4))
        depth = float(np.clip(1.0 + b.amplitude_jitter * rng.standard_normal(), 0.5, 1.5))
        pause = b.pause_share * period
        active = period - pause
        ti = active * b.ie_ratio / (1.0 + b.ie_ratio)
        te = active - ti
        # a hold starting inside this breath: hold at full lung (after the inhale)
        hold = next(((hs, hd) for hs, hd in holds if tcur < hs < tcur + period), None)
        inh.append(tcur)
        m = (t >= tcur) & (t < tcur + ti)
        vol[m] = depth * 0.5 * (1 - np.cos(np.pi * (t[m] - tcur) / ti))
        t_top = tcur + ti
        if hold is not None:
            hs, hd = hold
            t_hold_end = max(t_top, hs) + hd
            m = (t >= t_top) & (t < t_hold_end)
            vol[m] = depth
            t_top = t_hold_end
        ex.append(t_top)
        m = (t >= t_top) & (t < t_top + te)
        vol[m] = depth * 0.5 * (1 + np.cos(np.pi * (t[m] - t_top) / te))
        tcur = t_top + te + pause
    ex_a = [e for e in ex if e < end]
    inh_a = [i for i in inh if i < end]
    return vol, ex_a, inh_a


def unit_vector(rng: np.random.Generator) -> np.ndarray:
    """A random direction in 3-D (unit vector) drawn from ``rng``."""
    v = rng.standard_normal(3)
    return v / np.linalg.norm(v)


def _tilt_axis(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The breathing tilt seen along ``a``: its part perpendicular to gravity ``g`` (a turning
    gravity vector changes at right angles to itself), as a unit vector."""
    a = a / np.linalg.norm(a)
    t = a - np.dot(a, g) * g
    n = float(np.linalg.norm(t))
    if n < 1e-6:  # along gravity: any perpendicular direction
        t = np.cross(g, np.array([1.0, 0.0, 0.0] if abs(g[0]) < 0.9 else [0.0, 1.0, 0.0]))
        n = float(np.linalg.norm(t))
    out: np.ndarray = t / n
    return out


def synthesize(
    duration_s: float,
    *,
    seed: int,
    breather: Breather | None = None,
    fs_hz: float = 100.0,
    noise: float = 0.02,
    gravity_axis: np.ndarray | None = None,
    breathing_axis: np.ndarray | None = None,
    acc_amplitude_mg: float = 15.0,
    lift_mm: float = 8.0,
    posture_shift_s: float | None = None,
    stuck_axis: tuple[int, float] | None = None,
    motion_artifacts: int = 0,
) -> Synthetic:
    """Make a synthetic recording.

    Args:
        duration_s: length in seconds.
        seed: seed of the random generator (every call with the same arguments is identical).
        breather: breathing parameters (defaults: 12 breaths/min, I:E 1:1.5).
        fs_hz: sample rate of the belt and accelerometer.
        noise: white noise, as a share of the breath depth.
        gravity_axis: direction of gravity in sensor coordinates (default: a random one).
        breathing_axis: direction of the breathing motion (default: random, not parallel to g).
        acc_amplitude_mg: peak-to-peak breathing tilt on the accelerometer, mG.
        lift_mm: how far the chest wall rises against gravity on a full breath in, mm (its
            acceleration is what a real accelerometer sees of it: a few mG at rest).
        posture_shift_s: at this time the body turns (2 s of motion): gravity and the
            breathing axis take new random directions (the inhale stays along the new axis).
        stuck_axis: ``(axis, start_s)``: from then on that axis is pinned at -2000 mG (the
            Polar H10 firmware fault).
        motion_artifacts: this many short (0.5-1.5 s) bursts of body motion at random times.
    """
    b = breather or Breather()
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * fs_hz))
    t = np.arange(n) / fs_hz
    vol, ex, inh = _volume(t, b, rng)
    wander = 0.15 * np.sin(2 * np.pi * t / 97.0 + rng.uniform(0, 2 * np.pi))
    resp = vol + wander + noise * rng.standard_normal(n)
    g = unit_vector(rng) if gravity_axis is None else np.asarray(gravity_axis, float) / np.linalg.norm(gravity_axis)
    a = unit_vector(rng) if breathing_axis is None else np.asarray(breathing_axis, float)
    a = _tilt_axis(a, g)
    # heartbeat from RSA: instantaneous HR follows the volume (higher while it rises)
    dv = np.gradient(vol, 1.0 / fs_hz)
    dv = dv / (np.max(np.abs(dv)) + 1e-12)
    hr_inst = b.hr_bpm + 0.5 * b.rsa_bpm * np.interp(t - 0.5, t, vol / (np.max(vol) + 1e-12) * 2 - 1)
    beats: list[float] = []
    tb = float(rng.uniform(0.2, 0.9))
    while tb < duration_s:
        beats.append(tb)
        hr = float(np.interp(tb, t, hr_inst))
        tb += 60.0 / hr * (1.0 + 0.01 * rng.standard_normal())
    beat_t = np.asarray(beats[1:])
    rr = np.diff(np.asarray(beats)) * 1000.0
    ripple = np.zeros(n)
    for bt in beats:
        m = (t >= bt) & (t < bt + 0.1)
        ripple[m] += np.sin(np.pi * (t[m] - bt) / 0.1)
    g_t = np.broadcast_to(g, (n, 3)).copy()
    a_t = np.broadcast_to(a, (n, 3)).copy()
    if posture_shift_s is not None:
        # a second posture drawn from a separate stream so the rest stays as without a shift
        prng = np.random.default_rng([seed, 1])
        g2 = unit_vector(prng)
        a2 = _tilt_axis(unit_vector(prng), g2)
        w = np.clip((t - posture_shift_s) / 2.0, 0.0, 1.0)[:, None]
        g_t = (1 - w) * g + w * g2
        g_t /= np.linalg.norm(g_t, axis=1, keepdims=True)
        a_t = (1 - w) * a + w * a2
        a_t /= np.linalg.norm(a_t, axis=1, keepdims=True)
    turn = None
    if posture_shift_s is not None:
        # the body's own movement while it turns: a sway of about 150 mG (the turn of gravity
        # alone is a slow glide a sensor cannot tell from a deep breath)
        m = (t >= posture_shift_s) & (t < posture_shift_s + 2.0)
        turn = (m, 150.0 * np.sin(2 * np.pi * 1.5 * (t[m] - posture_shift_s))[:, None]
                * unit_vector(np.random.default_rng([seed, 3]))[None, :])
    # the lift: height = lift_mm x volume (0 at the end of the exhale); its acceleration along g
    lift_mg = np.gradient(np.gradient(lift_mm / 1000.0 * vol, 1.0 / fs_hz), 1.0 / fs_hz) / 9.80665 * G_MG
    acc = (
        G_MG * g_t
        + lift_mg[:, None] * g_t
        + acc_amplitude_mg * (vol - 0.5)[:, None] * a_t
        + 1.5 * ripple[:, None] * a_t
        + acc_amplitude_mg * noise * rng.standard_normal((n, 3))
    )
    if turn is not None:
        acc[turn[0]] += turn[1]
    if motion_artifacts:
        mrng = np.random.default_rng([seed, 2])
        for _ in range(motion_artifacts):
            t0 = float(mrng.uniform(0.1, 0.9) * duration_s)
            dur = float(mrng.uniform(0.5, 1.5))
            m = (t >= t0) & (t < t0 + dur)
            ph = (t[m] - t0) / dur
            acc[m] += 300.0 * np.sin(np.pi * ph)[:, None] * mrng.standard_normal(3)[None, :]
    if stuck_axis is not None:
        k, t0 = stuck_axis
        acc[t >= t0, k] = -2000.0
    return Synthetic(
        fs_hz=fs_hz,
        t_s=t,
        volume=vol,
        resp=resp,
        acc_mg=acc,
        beat_t_s=beat_t,
        rr_ms=rr,
        exhale_onsets_s=np.asarray(ex),
        inhale_onsets_s=np.asarray(inh),
        breathing_axis=a,
    )

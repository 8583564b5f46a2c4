"""The nonparametric regressions behind :mod:`costmodel.voi`'s EVPPI and EVSI estimates.

:func:`_regression_voi` is the shared mean-max estimator with its standard error; the spline
(:class:`_SplineFit`) and Gaussian-process (:func:`_gp_fit`) regressions estimate the
conditional expectation of each strategy's incremental net benefit. Arrays only; the public
functions and their input checks are in :mod:`costmodel.voi`.

**Spline regression** (``"spline"``), one regression per strategy and threshold.
Each parameter gets a cubic B-spline basis with knots at quantiles of its sample (20
functions for one parameter; a parameter with no more distinct values than that gets one
indicator per value); a group of 2 to 4 parameters gets the tensor product of these
marginal bases (8, 5 and 4 functions per parameter: 64, 125 and 256 columns). Second
differences of the coefficients along each parameter are penalised (P-splines; Eilers &
Marx 1996), with one smoothing parameter per parameter as in mgcv's ``te()`` (Wood 2006),
which voi uses for groups of up to four parameters. The tensor product, rather than an
additive model with pairwise interactions, is used because incremental net benefit is
typically a product of parameters (a probability times a cost, a risk ratio times a
baseline risk) and because its penalty null space keeps all products of linear terms
(``1, x1, x2, x1*x2, ...``), so a bilinear net benefit is fitted without bias; with
quantile knots the fit does not change when a parameter is rescaled linearly.
Smoothing parameters minimise generalised cross-validation (Craven & Wahba 1979): the
ratios between the per-parameter penalties over a small log grid, the overall level over
a log grid of 120 values. In the orthonormal eigenbasis of the penalty, the fitted values,
residual sum of squares and effective degrees of freedom for every smoothing parameter
and every response are closed forms, so the search costs one small eigendecomposition
per ratio and is vectorised over samples and thresholds.

**Gaussian-process regression** (``"gp"``, as in Strong et al. 2014): a linear mean in
the inputs (least squares) plus a zero-mean GP with squared-exponential covariance with
one length scale per parameter (ARD) and a noise variance, on inputs standardised to unit
variance. Hyperparameters maximise the log marginal likelihood (L-BFGS-B with its
analytic gradient, on log scale; a second start only if the first fails) on at most 300
of the training samples; the posterior mean is then computed from at most
``max_gp_samples`` (the argument of :func:`costmodel.voi.evppi`) training samples and
evaluated at all samples. Because the optimisation costs O(m^3) per step, the GP regresses
the incremental effects ``e_s - e_0`` and costs ``c_s - c_0`` (2 (n_strategies - 1) fits)
and combines the fitted values linearly for each threshold: conditional expectation is
linear, so ``wtp * E[de | x] - E[dc | x]`` equals ``E[INB | x]`` exactly (voi does the same
for cost-effectiveness inputs).

**Standard error** (as proposed by Strong et al. 2014): the EVPPI is recomputed for 100
draws (fixed seed) from the posterior distribution of the regression function and the
standard deviation of these values is reported. For the spline this is the Bayesian
posterior of the penalised regression (Wahba 1983; mgcv's ``Vp``) with the residual
variance from the fit, drawn exactly and evaluated at all samples. For the GP it is the
posterior of the latent function at the training samples, drawn with Matheron's rule from
the Cholesky factors already computed, and the EVPPI of each draw is evaluated at those
training samples; the uncertainty in the linear mean and the hyperparameters is ignored.
Either way the standard error measures the regression error, not the Monte Carlo error
of the PSA sample itself (which also shifts the EVPI). With 100 draws the standard error
is itself uncertain by about 7%; draws are seeded, so a result is reproducible on one
machine, but a different BLAS build or thread count can rotate the eigenvectors of
repeated penalty eigenvalues and so change the draws (not the EVPPI) at that level.

References
----------
Strong M, Oakley JE, Brennan A. Estimating multiparameter partial expected value of perfect
information from a probabilistic sensitivity analysis sample: a nonparametric regression
approach. Med Decis Making 2014;34(3):311-326. doi:10.1177/0272989X13505910

Eilers PHC, Marx BD. Flexible smoothing with B-splines and penalties. Stat Sci
1996;11(2):89-121. doi:10.1214/ss/1038425655

Craven P, Wahba G. Smoothing noisy data with spline functions. Numer Math 1979;31:377-403.
doi:10.1007/BF01404567

Wahba G. Bayesian "confidence intervals" for the cross-validated smoothing spline. J R Stat
Soc B 1983;45(1):133-150. doi:10.1111/j.2517-6161.1983.tb01239.x

Wood SN. Low-rank scale-invariant tensor product smooths for generalized additive mixed
models. Biometrics 2006;62(4):1025-1036. doi:10.1111/j.1541-0420.2006.00574.x

Rasmussen CE, Williams CKI. Gaussian Processes for Machine Learning. MIT Press, 2006.
doi:10.7551/mitpress/3206.001.0001
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import product

import numpy as np
import scipy.linalg
import scipy.optimize
from scipy.interpolate import BSpline

from costmodel.cea import evpi as _evpi
from costmodel.cores import map_on_cores
from costmodel.errors import AnalysisWarning
from costmodel.rng import Purpose, method_stream
from costmodel.voi_validation import VoiError

# Basis functions per parameter (cubic B-splines, knots at quantiles) by group size, so the
# tensor basis stays at most a few hundred columns: 20, 8**2 = 64, 5**3 = 125, 4**4 = 256.
_MARGIN_BASIS = {1: 20, 2: 8, 3: 5, 4: 4}
# Grid of penalty ratios lambda_j / lambda_1 (j >= 2) searched by GCV, per group size.
_RATIO_GRID = {1: (), 2: np.logspace(-3, 3, 13), 3: np.logspace(-2, 2, 5), 4: np.logspace(-2, 2, 4)}
_N_LAMBDA = 120  # points of the log grid of the overall smoothing parameter
# Posterior draws of the regression function for the standard error.
_N_DRAWS = 100
# GP hyperparameters are estimated on at most this many of the training samples: each
# evaluation of the marginal likelihood costs O(m**3).
_GP_HYPER_SAMPLES = 300
_GP_CHUNK_ELEMENTS = 4_000_000  # prediction block: rows * training samples
_DRAW_BLOCK_ELEMENTS = 4_000_000  # spline posterior draws: samples * strategies * draws
# Relative excess of an estimate over the EVPI tolerated silently before clipping.
_EVPI_TOLERANCE = 0.01


# --- Shared estimator -----------------------------------------------------------------------


def _regression_voi(
    cost: np.ndarray,
    effect: np.ndarray,
    wtp: np.ndarray,
    x: np.ndarray,
    method: str,
    max_gp_samples: int,
    caller: str,
    with_se: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean-max estimate, its standard error (NaN without ``with_se``: the spline's posterior
    draws are most of the work; 0 with one strategy, nothing to learn) and whether the raw
    estimate exceeded the EVPI beyond rounding (and was clipped to it) per threshold: (n_wtp,)
    each."""
    n_samples, n_strategies = cost.shape
    if n_strategies == 1:  # one option: nothing to learn
        return np.zeros(wtp.size), np.zeros(wtp.size), np.zeros(wtp.size, dtype=bool)
    d_effect = effect[:, 1:] - effect[:, :1]  # (n, k - 1)
    d_cost = cost[:, 1:] - cost[:, :1]
    n_inc = n_strategies - 1
    value = np.empty(wtp.size)
    se = np.empty(wtp.size)
    if method == "spline":
        # Responses ordered (threshold, strategy): column w * n_inc + s.
        inb = wtp[None, :, None] * d_effect[:, None, :] - d_cost[:, None, :]
        fit = _SplineFit(x, inb.reshape(n_samples, wtp.size * n_inc), caller)
        rng = method_stream(Purpose.SPLINE_DRAWS)
        # Posterior draws are evaluated in blocks so that memory stays bounded in n_samples.
        block = max(1, _DRAW_BLOCK_ELEMENTS // (n_samples * n_inc))
        for w in range(wtp.size):
            cols = np.arange(w * n_inc, (w + 1) * n_inc)
            value[w] = _mean_max_gain(fit.fitted(cols))
            if not with_se:
                se[w] = np.nan
                continue
            coef = fit.draw_coefficients(cols, _N_DRAWS, rng)  # (q, n_inc, B)
            gains = [
                fit.mean_max_gain(coef[:, :, start : start + block])
                for start in range(0, _N_DRAWS, block)
            ]
            se[w] = np.std(np.concatenate(gains), ddof=1)
    else:
        fitted, draws = _gp_fit(x, np.hstack([d_effect, d_cost]), max_gp_samples)
        for w in range(wtp.size):
            value[w] = _mean_max_gain(wtp[w] * fitted[:, :n_inc] - fitted[:, n_inc:])
            g_draws = wtp[w] * draws[:, :n_inc] - draws[:, n_inc:]  # (m, n_inc, B)
            se[w] = np.std(_mean_max_gain(g_draws), ddof=1) if with_se else np.nan
    clipped, beyond = _clip_to_evpi(value, cost, effect, wtp, caller)
    return clipped, se, beyond


def _mean_max_gain(g: np.ndarray) -> np.ndarray | float:
    """mean_i max(0, g_i) - max(0, mean_i g_i) over strategies, as a mean opportunity loss.

    g: (n, n_inc) fitted incremental net benefits, or (n, n_inc, B) draws -> float or (B,).
    The baseline strategy has INB 0; the strategy chosen on current information is the one
    with the largest mean (which one among equal means does not change the value).
    """
    best_each = np.maximum(g.max(axis=1), 0.0).mean(axis=0)
    best_mean = np.maximum(g.mean(axis=0).max(axis=0), 0.0)
    return best_each - best_mean


def _clip_to_evpi(
    value: np.ndarray, cost: np.ndarray, effect: np.ndarray, wtp: np.ndarray, caller: str
) -> tuple[np.ndarray, np.ndarray]:
    """Clip to [0, EVPI]; warn when the excess over the EVPI is beyond rounding. Returns the
    clipped values and, per threshold, whether the excess was beyond rounding."""
    bound = _evpi(cost, effect, wtp)
    scale = np.abs(wtp[:, None] * effect.mean(axis=0) - cost.mean(axis=0)).max(axis=1)
    excess = value - bound
    tolerance = _EVPI_TOLERANCE * bound + 1e-9 * scale
    if np.any(excess > tolerance):
        worst = int(np.argmax(excess - tolerance))
        warnings.warn(
            f"{caller}: regression estimate {value[worst]:.6g} exceeds the EVPI "
            f"{bound[worst]:.6g} at wtp {wtp[worst]:g}: the regression over-fits the sample; "
            "clipped to the EVPI. Use a larger PSA sample or fewer parameters.",
            AnalysisWarning,
            stacklevel=4,  # the caller of evppi / evsi_regression
        )
    return np.clip(value, 0.0, bound), excess > tolerance


# --- Penalised regression splines ------------------------------------------------------------


@dataclass(frozen=True)
class _Smoother:
    """One ratio of the per-parameter penalties: the penalty's eigenbasis ``rotation`` (q, q)
    and the shrinkage of each eigen-direction for each overall smoothing parameter,
    ``shrink`` (n_lambda, q), with its effective degrees of freedom ``edf`` (n_lambda,)."""

    rotation: np.ndarray
    shrink: np.ndarray
    edf: np.ndarray


@dataclass(frozen=True)
class _SplineBasis:
    """What a spline fit of responses on x needs of x alone: the orthonormal basis ``u``
    (n, q) of the tensor B-spline basis and one :class:`_Smoother` per ratio of the penalties.
    The same for every response (strategy, threshold, price) regressed on the same x."""

    u: np.ndarray
    smoothers: tuple[_Smoother, ...]

    @classmethod
    def of(cls, x: np.ndarray, caller: str) -> _SplineBasis:
        """The basis of x, from the cache when one is open (:func:`spline_bases_kept`)."""
        cache = _open_cache
        if cache is None:
            return cls._build(x, caller)
        key = (x.shape, x.dtype.str, hashlib.sha256(np.ascontiguousarray(x)).digest())
        with cache.lock:
            entry = cache.entries.setdefault(key, _CacheEntry())
        with entry.lock:  # one thread builds it; the others wait for it
            if entry.basis is not None:
                return entry.basis
            basis = cls._build(x, caller)
            arrays = [basis.u]
            arrays += [a for m in basis.smoothers for a in (m.rotation, m.shrink, m.edf)]
            size = sum(a.nbytes for a in arrays)
            with cache.lock:
                if cache.bytes + size > _BASIS_CACHE_BYTES:
                    return basis  # not kept: the cache holds what it may
                cache.bytes += size
            for array in arrays:
                array.setflags(write=False)  # shared by every fit that finds it
            entry.basis = basis
            return basis

    @classmethod
    def _build(cls, x: np.ndarray, caller: str) -> _SplineBasis:
        n, d = x.shape
        margins = [_marginal_basis(x[:, j], _MARGIN_BASIS[d]) for j in range(d)]
        basis = margins[0][0]
        for b, _ in margins[1:]:  # row-wise Kronecker product
            basis = (basis[:, :, None] * b[:, None, :]).reshape(n, -1)
        sizes = [b.shape[1] for b, _ in margins]
        if basis.shape[1] * 2 > n:
            raise VoiError(
                f"{caller}: the spline basis for {d} parameter(s) has {basis.shape[1]} "
                f"coefficients, more than half of the {n} samples; use a larger PSA sample or "
                "fewer parameters."
            )
        penalties = [_kron_penalty(pen, j, sizes) for j, (_, pen) in enumerate(margins)]
        u, sv, vt = np.linalg.svd(basis, full_matrices=False)
        keep = sv > sv[0] * 1e-8
        to_gamma = vt[keep].T / sv[keep]  # beta = to_gamma @ gamma
        ratios = list(product(*[_RATIO_GRID[d]] * (d - 1))) if d > 1 else [()]
        smoothers = []
        for ratio in ratios:
            penalty = penalties[0] + sum(c * p for c, p in zip(ratio, penalties[1:], strict=True))
            m = to_gamma.T @ penalty @ to_gamma
            s, w = np.linalg.eigh((m + m.T) / 2)
            s = np.clip(s, 0.0, None)
            lam = _lambda_grid(s)
            shrink = 1.0 / (1.0 + lam[:, None] * s[None, :])  # (n_lambda, q)
            smoothers.append(_Smoother(w, shrink, shrink.sum(axis=1)))
        return cls(u[:, keep], tuple(smoothers))


@dataclass
class _CacheEntry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    basis: _SplineBasis | None = None


@dataclass
class _BasisCache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    entries: dict = field(default_factory=dict)
    bytes: int = 0  # of the bases kept
    users: int = 0  # open spline_bases_kept blocks


_open_cache: _BasisCache | None = None  # inside spline_bases_kept() blocks
_BASES_LOCK = threading.Lock()
# At most this much is kept (a 100,000-sample EVSI basis of 20 columns is 16 MB; beyond the
# cap a basis is built for each fit, as without the cache)
_BASIS_CACHE_BYTES = 256 * 2**20


@contextmanager
def spline_bases_kept() -> Iterator[None]:
    """Inside this block (on every thread) a spline basis is built once per distinct x and
    reused: for many regressions on the same inputs, e.g. the EVSI at every price of a grid
    (the trial simulated for a size is the same at every price). The same numbers; the bases
    (at most _BASIS_CACHE_BYTES) are dropped when the last open block ends (blocks may nest
    or be open on several threads at once: they share one cache)."""
    global _open_cache
    with _BASES_LOCK:
        if _open_cache is None:
            _open_cache = _BasisCache()
        cache = _open_cache
        cache.users += 1
    try:
        yield
    finally:
        with _BASES_LOCK:
            cache.users -= 1
            if not cache.users and _open_cache is cache:
                _open_cache = None


class _SplineFit:
    """Tensor-product P-spline fits of every column of Y on x, smoothing chosen by GCV.

    With B = U S V' (thin SVD, numerically null directions dropped) and gamma = S V' beta,
    the fitted values are U gamma and the penalty gamma' M gamma. With M = W diag(s) W' and
    z = W' U' y, the penalised least-squares coefficients are theta = z / (1 + lambda s) in
    the orthonormal basis U W, so RSS and EDF are closed forms for any lambda.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, caller: str) -> None:
        n = x.shape[0]
        basis = _SplineBasis.of(x, caller)
        self.u = basis.u
        uy = self.u.T @ y  # (q, r)
        resid_perp = np.sum((y - self.u @ uy) ** 2, axis=0)  # outside the basis
        n_resp = y.shape[1]
        best_gcv = np.full(n_resp, np.inf)
        self.rotation: list[np.ndarray] = []
        self.which = np.zeros(n_resp, dtype=np.int64)
        self.theta = np.zeros((uy.shape[0], n_resp))
        self.sd = np.zeros((uy.shape[0], n_resp))
        for r, smoother in enumerate(basis.smoothers):
            shrink, edf = smoother.shrink, smoother.edf
            self.rotation.append(smoother.rotation)
            z = smoother.rotation.T @ uy  # (q, r)
            rss = resid_perp[None, :] + ((1.0 - shrink) ** 2) @ (z**2)  # (n_lambda, r)
            gcv = n * rss / (n - edf[:, None]) ** 2
            pick = np.argmin(gcv, axis=0)
            score = gcv[pick, np.arange(n_resp)]
            better = score < best_gcv
            if np.any(better):
                cols = np.flatnonzero(better)
                f = shrink[pick[cols]].T  # (q, cols)
                sigma2 = rss[pick[cols], cols] / (n - edf[pick[cols]])
                best_gcv[cols] = score[cols]
                self.which[cols] = r
                self.theta[:, cols] = f * z[:, cols]
                self.sd[:, cols] = np.sqrt(f * np.clip(sigma2, 0.0, None)[None, :])

    def _coefficients(self, cols: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """theta (q, len(cols), ...) in each column's eigenbasis -> coefficients on U."""
        out = np.empty_like(theta)
        for r in np.unique(self.which[cols]):
            sel = self.which[cols] == r
            out[:, sel] = np.tensordot(self.rotation[r], theta[:, sel], axes=1)
        return out

    def fitted(self, cols: np.ndarray) -> np.ndarray:
        """(n, len(cols)) fitted values."""
        return self.u @ self._coefficients(cols, self.theta[:, cols])

    def draw_coefficients(
        self, cols: np.ndarray, n_draws: int, rng: np.random.Generator
    ) -> np.ndarray:
        """(q, len(cols), n_draws) posterior draws of the coefficients on U."""
        q = self.theta.shape[0]
        noise = rng.standard_normal((q, cols.size, n_draws))
        theta = self.theta[:, cols, None] + self.sd[:, cols, None] * noise
        return self._coefficients(cols, theta)

    def evaluate(self, coef: np.ndarray) -> np.ndarray:
        """Coefficients (q, ...) -> fitted values (n, ...)."""
        return np.tensordot(self.u, coef, axes=1)

    def mean_max_gain(self, coef: np.ndarray) -> np.ndarray:
        """:func:`_mean_max_gain` of the fitted values of coefficient draws (q, n_inc, B),
        without forming them all: a running maximum over strategies, and the means over
        samples from the basis means (the mean of U @ c is mean(U) @ c). (B,)"""
        q, k, b = coef.shape
        best = np.zeros((self.u.shape[0], b))  # the baseline strategy's INB is 0
        for s in range(k):
            np.maximum(best, self.u @ coef[:, s, :], out=best)
        means = (self.u.mean(axis=0) @ coef.reshape(q, k * b)).reshape(k, b)
        return best.mean(axis=0) - np.maximum(means.max(axis=0), 0.0)


def _marginal_basis(values: np.ndarray, n_basis: int) -> tuple[np.ndarray, np.ndarray]:
    """(n,) values -> basis (n, p) and second-difference matrix (max(p - 2, 0), p).

    Cubic B-splines with interior knots at quantiles; a variable with at most `n_basis`
    distinct values gets one indicator per value (ordered), smoothed across neighbours.
    """
    levels = np.unique(values)
    if levels.size <= n_basis:
        basis = (values[:, None] == levels[None, :]).astype(float)
    else:
        lo, hi = levels[0], levels[-1]
        probs = np.linspace(0.0, 1.0, n_basis - 2)[1:-1]
        interior = np.unique(np.quantile(values, probs))
        interior = interior[(interior > lo) & (interior < hi)]
        knots = np.concatenate([[lo] * 4, interior, [hi] * 4])
        basis = BSpline.design_matrix(values, knots, 3).toarray()
    p = basis.shape[1]
    diff = np.diff(np.eye(p), 2, axis=0) if p >= 3 else np.zeros((0, p))
    return basis, diff


def _kron_penalty(diff: np.ndarray, j: int, sizes: list[int]) -> np.ndarray:
    """Penalty on margin j of a tensor basis: I x ... x D'D x ... x I."""
    out = np.ones((1, 1))
    for k, size in enumerate(sizes):
        out = np.kron(out, diff.T @ diff if k == j else np.eye(size))
    return out


def _lambda_grid(s: np.ndarray) -> np.ndarray:
    """Log grid of smoothing parameters from no smoothing to full shrinkage of s > 0."""
    positive = s[s > s.max() * 1e-10] if s.max() > 0 else s[:0]
    if positive.size == 0:
        return np.zeros(1)
    return np.logspace(np.log10(1e-6 / positive.max()), np.log10(1e6 / positive.min()), _N_LAMBDA)


# --- Gaussian-process regression -------------------------------------------------------------


def _gp_fit(x: np.ndarray, y: np.ndarray, max_gp_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """GP regression of each column of y on x, the columns on all cores.

    Returns fitted values at all samples (n, r) and posterior draws of the regression function
    at the training samples (m, r, B). Each column has its own hyperparameters; the normal
    draws are taken from one stream in column order before the columns are fitted, so the
    result does not depend on the number of threads.
    """
    n = x.shape[0]
    xs = (x - x.mean(axis=0)) / x.std(axis=0)
    m = min(n, int(max_gp_samples))
    train = method_stream(Purpose.GP_SUBSET).permutation(n)[:m]
    x_train = xs[train]
    h_train = np.column_stack([np.ones(m), x_train])
    h_all = np.column_stack([np.ones(n), xs])
    fitted = np.empty(y.shape)
    draws = np.empty((m, y.shape[1], _N_DRAWS))
    residuals = {}
    for j in range(y.shape[1]):  # the linear mean of each response
        y_train = y[train, j]
        beta = np.linalg.lstsq(h_train, y_train, rcond=None)[0]
        resid = y_train - h_train @ beta
        fitted[:, j] = h_all @ beta
        draws[:, j, :] = (h_train @ beta)[:, None]
        if resid.std() > 1e-12 * max(1.0, np.abs(y_train).max()):
            residuals[j] = resid  # else exactly linear in the inputs: nothing left for the GP
    draw_rng = method_stream(Purpose.GP_DRAWS)
    normals = {
        j: (draw_rng.standard_normal((m, _N_DRAWS)), draw_rng.standard_normal((m, _N_DRAWS)))
        for j in residuals
    }

    def fit(j: int) -> tuple[np.ndarray, np.ndarray]:
        return _gp_residual_fit(xs, x_train, residuals[j], *normals[j])

    for j, (column, latent) in zip(residuals, map_on_cores(fit, residuals), strict=True):
        fitted[:, j] += column
        draws[:, j, :] += latent
    return fitted, draws


def _gp_residual_fit(
    xs: np.ndarray, x_train: np.ndarray, resid: np.ndarray, z_f: np.ndarray, z_e: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """GP fit of one response's residuals from its linear mean: the fitted GP part at all
    samples (n,) and posterior draws of it at the training samples (m, B), from standard
    normal draws z_f and z_e (m, B)."""
    n, m = xs.shape[0], x_train.shape[0]
    scale = resid.std()
    r = resid / scale
    n_hyper = min(m, _GP_HYPER_SAMPLES)
    length, sf2, sn2 = _gp_hyperparameters(x_train[:n_hyper], r[:n_hyper])
    xl = x_train / length
    k_train = sf2 * _sq_exp(xl, xl)
    chol = _cholesky(_plus_diagonal(k_train, sn2))
    alpha = scipy.linalg.cho_solve((chol, True), r)
    column = np.empty(n)
    block = max(1, _GP_CHUNK_ELEMENTS // m)
    for start in range(0, n, block):  # blocks of samples bound the memory
        stop = min(n, start + block)
        column[start:stop] = scale * (sf2 * _sq_exp(xs[start:stop] / length, xl) @ alpha)
    # Matheron's rule: f0 ~ N(0, K), e ~ N(0, sn2 I); mean + f0 - K A^-1 (f0 + e) is a draw
    # from the posterior of the latent function, = mean - e + sn2 A^-1 (f0 + e).
    mean = k_train @ alpha
    chol_k = _cholesky(_plus_diagonal(k_train, 0.01 * sn2))
    f0 = chol_k @ z_f
    e = np.sqrt(sn2) * z_e
    latent = mean[:, None] - e + sn2 * scipy.linalg.cho_solve((chol, True), f0 + e)
    return column, scale * latent


def _sq_exp(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """exp(-|a_i - b_j|^2 / 2) for rows already divided by the length scales."""
    # |a|^2 + |b|^2 - 2 a.b, in place: two (n_a, n_b) arrays instead of six (the same
    # operations in the same order, so the same bits; 2 a.b is exactly 2 (a.b))
    out = np.add.outer((a**2).sum(axis=1), (b**2).sum(axis=1))
    out -= (2.0 * a) @ b.T
    np.maximum(out, 0.0, out=out)
    out *= -0.5
    return np.exp(out, out=out)


def _cholesky(a: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor, adding diagonal jitter when rounding makes `a` indefinite."""
    scale = np.mean(np.diag(a))
    for jitter in (0.0, 1e-10, 1e-8, 1e-6, 1e-4):
        try:
            # NumPy's factorisation releases the GIL (scipy's does not): columns run in threads
            return np.linalg.cholesky(_plus_diagonal(a, jitter * scale) if jitter else a)
        except np.linalg.LinAlgError:
            continue
    raise VoiError(
        "Gaussian-process regression failed: the covariance matrix is not positive definite "
        "even with jitter. Remove duplicated or collinear parameters from the group, or use "
        "method='spline' for groups of up to 4 parameters."
    )


def _plus_diagonal(a: np.ndarray, value: float) -> np.ndarray:
    """a + value * I, without forming I (the same numbers: off-diagonal cells gain 0)."""
    out = a.copy()
    out.flat[:: a.shape[0] + 1] += value
    return out


def _inverse_from_cholesky(chol: np.ndarray) -> np.ndarray:
    """A^-1 from the lower Cholesky factor of A (LAPACK potri: a third of the work of
    solving A X = I)."""
    inverse, info = scipy.linalg.lapack.dpotri(chol, lower=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"potri failed (info {info})")
    return np.tril(inverse) + np.tril(inverse, -1).T


def _gp_hyperparameters(x: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Length scales (d,), signal and noise variances maximising the log marginal likelihood.

    x: (h, d) standardised inputs; r: (h,) standardised residuals of the linear mean.
    Parameters on log scale: log length scales, log signal sd, log noise sd.
    """
    h, d = x.shape
    # Squared differences per parameter, (d, h * h): the length-scale gradient is one product.
    diffs = np.stack([((x[:, k, None] - x[None, :, k]) ** 2).ravel() for k in range(d)])
    eye = np.eye(h)

    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        length = np.exp(params[:d])
        sf2, sn2 = np.exp(2.0 * params[d]), np.exp(2.0 * params[d + 1])
        k = sf2 * _sq_exp(x / length, x / length)
        try:
            chol = scipy.linalg.cholesky(k + sn2 * eye, lower=True)
        except np.linalg.LinAlgError:
            return 1e10, np.zeros(d + 2)
        alpha = scipy.linalg.cho_solve((chol, True), r)
        nll = 0.5 * r @ alpha + np.log(np.diag(chol)).sum() + 0.5 * h * np.log(2.0 * np.pi)
        inner = np.outer(alpha, alpha) - _inverse_from_cholesky(chol)
        gk = inner * k
        grad = np.empty(d + 2)
        grad[:d] = -0.5 * (diffs @ gk.ravel()) / length**2
        grad[d] = -np.sum(gk)
        grad[d + 1] = -sn2 * np.trace(inner)
        return float(nll), grad

    bounds = [(np.log(0.05), np.log(100.0))] * d + [
        (np.log(1e-2), np.log(1e2)),
        (np.log(1e-3), np.log(10.0)),
    ]
    best = None
    # The second start is tried only if the first fails (no positive-definite matrix along
    # its path): each start costs tens of O(h^3) evaluations.
    for length0, noise0 in ((np.sqrt(d), 0.3), (1.0, 0.03)):
        start = np.concatenate([np.full(d, np.log(length0)), [0.0, np.log(noise0)]])
        res = scipy.optimize.minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds)
        if np.isfinite(res.fun) and res.fun < 1e10:
            best = res
            break
    if best is None:
        raise VoiError(
            "Gaussian-process regression failed: no hyperparameters give a positive definite "
            "covariance. Remove duplicated parameters from the group or use a larger sample."
        )
    p = best.x
    return np.exp(p[:d]), float(np.exp(2.0 * p[d])), float(np.exp(2.0 * p[d + 1]))

"""The PCA/ICA method of Lopes-dos-Santos, Ribeiro & Tort (2013), for comparison.

Z-score, count eigenvalues of the correlation matrix above the Marchenko–Pastur
bound, and unmix that subspace with FastICA.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from neuronmf._provenance import result_attrs
from neuronmf.assemblies._input import _as_counts, _axis_coords

__all__ = ["detect_ica", "marchenko_pastur_count"]


def marchenko_pastur_count(counts) -> int:
    """Number of correlation-matrix eigenvalues above (1 + √(N/B))².

    Parameters
    ----------
    counts : array of shape (time, neuron)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> marchenko_pastur_count(rng.poisson(1.0, (5000, 30)))
    0
    """
    Z = _zscore(np.asarray(counts, dtype=float))
    B, N = Z.shape
    ev = np.linalg.eigvalsh(Z.T @ Z / B)
    return int(np.sum(ev > (1 + np.sqrt(N / B)) ** 2))


def _zscore(a: np.ndarray) -> np.ndarray:
    sd = a.std(axis=0)
    sd[sd == 0] = 1.0
    return (a - a.mean(axis=0)) / sd


def detect_ica(
    activity, *, n_assemblies: int | None = None, seed: int = 0
) -> xr.Dataset:
    """Assemblies by the PCA/ICA method (Lopes-dos-Santos et al. 2013).

    Z-scores the counts, counts assemblies with :func:`marchenko_pastur_count`
    (unless ``n_assemblies`` is given), and unmixes the leading principal
    subspace with scikit-learn's FastICA. Patterns have unit norm and are signed
    so that their largest-magnitude weight is positive.

    Returns
    -------
    xarray.Dataset
        ``membership`` (neuron, assembly) and ``activations`` (assembly, time)
        (the projection of the z-scored activity on each pattern).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.poisson(1.0, (2000, 20)).astype(float)
    >>> X[:, :5] += rng.poisson(3.0, (2000, 1)) * (rng.random((2000, 1)) < 0.1)
    >>> ds = detect_ica(X)
    >>> ds.sizes["assembly"]
    1
    """
    from sklearn.decomposition import PCA, FastICA

    A = _as_counts(activity, None, "time")
    Z = _zscore(A.values)
    k = marchenko_pastur_count(A.values) if n_assemblies is None else int(n_assemblies)
    k = max(k, 1)
    pcs = PCA(n_components=k, random_state=seed).fit(Z)
    P = pcs.components_.T  # (neuron, k)
    scores = Z @ P
    ica = FastICA(
        n_components=k, random_state=seed, whiten="unit-variance", max_iter=1000
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ica.fit(scores)
    patterns = P @ ica.components_.T  # (neuron, k)
    patterns /= np.linalg.norm(patterns, axis=0, keepdims=True)
    sign = np.sign(patterns[np.abs(patterns).argmax(axis=0), np.arange(k)])
    patterns *= sign
    return xr.Dataset(
        {
            "membership": (("neuron", "assembly"), patterns),
            "activations": (("assembly", "time"), (Z @ patterns).T),
        },
        coords={
            **_axis_coords(A),
            "assembly": np.arange(k),
        },
        attrs={
            **result_attrs(
                "assemblies",
                params={"n_assemblies": n_assemblies, "method": "pca-ica"},
                seed=seed,
            ),
            "method": "pca-ica (Lopes-dos-Santos et al. 2013)",
            "n_assemblies": int(k),
        },
    )

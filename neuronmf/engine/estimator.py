"""``neuronmf.NMF``: the engine as a scikit-learn estimator.

Follows scikit-learn's orientation: X is (n_samples, n_features), ``transform``
returns (n_samples, n_components) and ``components_`` is Wᵀ. The fit goes
through the same private path as :func:`neuronmf.nmf`.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils.validation import (
    check_array,
    check_is_fitted,
    check_non_negative,
    validate_data,
)

from neuronmf.engine import _validation as check
from neuronmf.engine import losses
from neuronmf.engine._fit import fit_matrix
from neuronmf.engine._options import check_options
from neuronmf.engine._project import project
from neuronmf.engine._sklearn_compat import (
    _SPARSE,
    _SVD_INITS,
    SOLVER_ALIASES,
    InputTypeError,  # noqa: F401 (raised by _custom_factor; importable here)
    SklearnConvergenceWarning,
    _all_zero,
    _custom_factor,
    reconstruction_error,
    result_norm2,  # noqa: F401 (importable here as before)
)
from neuronmf.engine.chunked import is_dask
from neuronmf.errors import ConvergenceWarning, InputError, input_error


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # e.g. two Generators, or arrays
        return a is b


class NMF(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Non-negative matrix factorisation X ≈ transform(X) · components_.

    Parameters
    ----------
    n_components : int, "auto" or None, default None
        Number of components; None uses min(n_samples, n_features);
        ``"auto"`` (scikit-learn's) takes it from the custom H of
        ``fit(X, W=, H=)``, else n_features. More components than
        min(n_samples, n_features) need ``init="random"`` (or None, or
        ``"custom"``).
    loss : {"frobenius", "kl", "itakura-saito"}, float or None, default None
        The data-fit term (a number is a β of the β-divergence family); None
        is ``"frobenius"`` unless ``beta_loss`` is given. ``transform``
        minimises the same one.
    solver : {"auto", "hals", "cd", "mu", "gradient", "ccd"}, default "auto"
        The loss's solvers (:func:`neuronmf.nmf`). ``"cd"`` is scikit-learn's
        coordinate descent on the Frobenius loss: it runs our HALS (the same
        family: exact coordinate minimisation, one component at a time) and,
        as in scikit-learn, is refused with another loss.
    init : {"nndsvda", "nndsvd", "nndsvdar", "random", "spa", "custom"} or None
        Default None, scikit-learn's rule: "nndsvda" if n_components <=
        min(n_samples, n_features) (the engine's default), else "random".
        ``"custom"`` starts from the W and H given to ``fit``/``fit_transform``
        (scikit-learn's orientation: W (n_samples, k), H (k, n_features), of
        X's dtype).
    l1_W, l2_W : float, default 0
        Penalties on the parts (``components_``).
    l1_H, l2_H : float, default 0
        Penalties on the activations (the output of ``transform``).
    max_iter : int, default 1000
    tol : float, default 1e-5
    n_restarts : int, default 1
    escape : bool, default True
        Re-seed components that non-negativity locks in a spurious local
        minimum and resume (see :func:`neuronmf.nmf`).
    seed : int or None, default None
    progress : bool, default False
        Show a progress bar.
    verbose : int or bool, default 0
        scikit-learn's name for ``progress`` (any non-zero value shows it).
    shuffle : bool, default False
        scikit-learn's random coordinate order for ``"cd"``. Our HALS updates
        the components in a fixed order, so ``shuffle=True`` is refused with
        a coordinate-descent solver; with ``"mu"`` (or ``"gradient"``) it is
        ignored, as scikit-learn ignores it there.
    random_state : int or None, default None
        scikit-learn's name for ``seed`` (giving both with different values
        is an error).
    beta_loss : {"frobenius", "kullback-leibler", "itakura-saito"}, float or None
        scikit-learn's name for ``loss`` (default None defers to ``loss``);
        a number is β (2 Frobenius, 1 KL, 0 Itakura–Saito). Giving ``loss``
        and ``beta_loss`` with different losses is an error.
    alpha_W, alpha_H, l1_ratio : float, default 0, "same", 0
        scikit-learn's penalties, with its meaning: alpha_W on the
        activations scaled by n_features, alpha_H (``"same"``: alpha_W) on
        ``components_`` scaled by n_samples, split by l1_ratio. They set
        l1_H = alpha_W·l1_ratio·n_features, l2_H = alpha_W·(1 − l1_ratio)·
        n_features, l1_W = alpha_H·l1_ratio·n_samples and l2_W =
        alpha_H·(1 − l1_ratio)·n_samples (docs/engine.md); an l1_*/l2_* also
        given must agree.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The parts (Wᵀ), rows of unit ℓ2 norm.
    n_components_ : int
    n_iter_ : int
        Iterations run. ``n_iter_ == max_iter`` with ``tol > 0`` warns a
        :class:`SklearnConvergenceWarning` (scikit-learn's rule).
    reconstruction_err_ : float
        |X − WH|_F of the fit (Frobenius loss); for another loss
        sqrt(2·D(X‖WH)), as scikit-learn defines it.
    result_ : neuronmf.NMFResult
        The full engine result (matrix orientation).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from neuronmf import NMF
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((200, 3)) @ rng.random((3, 12))   # samples × features
    >>> est = NMF(n_components=3, seed=0)
    >>> Z = est.fit_transform(X)
    >>> Z.shape, est.components_.shape
    ((200, 3), (3, 12))
    >>> err = np.linalg.norm(est.inverse_transform(Z) - X) / np.linalg.norm(X)
    >>> bool(err < 1e-3)   # relative error at the default tol=1e-5
    True
    """

    def __init__(
        self,
        n_components: int | None = None,
        *,
        loss: str | float | None = None,
        solver: str = "auto",
        init: str | None = None,
        l1_W: float = 0.0,
        l1_H: float = 0.0,
        l2_W: float = 0.0,
        l2_H: float = 0.0,
        max_iter: int = 1000,
        tol: float = 1e-5,
        n_restarts: int = 1,
        escape: bool = True,
        seed: int | None = None,
        progress: bool = False,
        random_state: int | None = None,
        beta_loss: str | float | None = None,
        alpha_W: float = 0.0,
        alpha_H: float | str = "same",
        l1_ratio: float = 0.0,
        verbose: int | bool = 0,
        shuffle: bool = False,
    ) -> None:
        self.n_components = n_components
        self.loss = loss
        self.solver = solver
        self.init = init
        self.l1_W = l1_W
        self.l1_H = l1_H
        self.l2_W = l2_W
        self.l2_H = l2_H
        self.max_iter = max_iter
        self.tol = tol
        self.n_restarts = n_restarts
        self.escape = escape
        self.seed = seed
        self.progress = progress
        self.random_state = random_state
        self.beta_loss = beta_loss
        self.alpha_W = alpha_W
        self.alpha_H = alpha_H
        self.l1_ratio = l1_ratio
        self.verbose = verbose
        self.shuffle = shuffle

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _loss(self) -> str:
        """The loss to fit: ``loss``, or scikit-learn's ``beta_loss`` when given.

        Both name the same thing; giving both with different losses is an
        error (``loss`` left at its default None defers to ``beta_loss``).
        """
        own = None if self.loss is None else losses.get(self.loss)
        if self.beta_loss is None:
            return "frobenius" if own is None else own.name
        try:
            theirs = losses.get(self.beta_loss)
        except InputError:
            raise input_error(
                "beta_loss",
                '"frobenius" (or 2), "kullback-leibler" (or 1), '
                '"itakura-saito" (or 0) or a number β',
                repr(self.beta_loss),
                'Pass e.g. beta_loss="kullback-leibler" (or loss=...).',
            ) from None
        if own is not None and own.name != theirs.name:
            raise input_error(
                "loss and beta_loss",
                "the same loss when both are given",
                f"loss={self.loss!r}, beta_loss={self.beta_loss!r}",
                "Give one of them (beta_loss is scikit-learn's name for loss).",
            )
        return theirs.name

    def _seed(self):
        """``seed``, or scikit-learn's ``random_state`` when given."""
        if self.random_state is None:
            return self.seed
        if self.seed is not None and not _same(self.seed, self.random_state):
            raise input_error(
                "seed and random_state",
                "the same value when both are given",
                f"seed={self.seed!r}, random_state={self.random_state!r}",
                "Give one of them (random_state is scikit-learn's name for seed).",
            )
        return self.random_state

    def _penalties(self, n_samples: int, n_features: int) -> dict:
        """Engine penalties from l1_*/l2_* or from scikit-learn's alpha_*/l1_ratio.

        scikit-learn's W is our H.T (activations) and its H is our W.T
        (``components_``); it scales alpha_W by n_features and alpha_H by
        n_samples, and both objectives carry ½ on the squared terms.
        """
        own = {k: getattr(self, k) for k in ("l1_W", "l1_H", "l2_W", "l2_H")}
        alpha_W = check.non_negative_number("alpha_W", self.alpha_W)
        if isinstance(self.alpha_H, str) and self.alpha_H == "same":
            alpha_H = alpha_W
        else:
            if isinstance(self.alpha_H, str):
                raise input_error(
                    "alpha_H",
                    'a number >= 0 or "same"',
                    self.alpha_H,
                    'Pass alpha_H="same" to use alpha_W.',
                )
            alpha_H = check.non_negative_number("alpha_H", self.alpha_H)
        ratio = check.check_real("l1_ratio", self.l1_ratio, 0.0)
        if ratio > 1.0:
            raise input_error(
                "l1_ratio",
                "a number in [0, 1]",
                self.l1_ratio,
                "Pass 0 <= l1_ratio <= 1.",
            )
        if not (alpha_W or alpha_H):
            return own
        mapped = {
            "l1_H": alpha_W * ratio * n_features,
            "l2_H": alpha_W * (1.0 - ratio) * n_features,
            "l1_W": alpha_H * ratio * n_samples,
            "l2_W": alpha_H * (1.0 - ratio) * n_samples,
        }
        for key, value in own.items():
            value = check.non_negative_number(key, value)
            if value and not np.isclose(value, mapped[key], rtol=1e-12, atol=0.0):
                raise input_error(
                    f"{key} and alpha_W/alpha_H/l1_ratio",
                    "the same penalty when both spellings are given",
                    f"{key}={value!r}, which alpha_W/alpha_H/l1_ratio make "
                    f"{mapped[key]!r}",
                    "Give the penalties one way (docs/engine.md, scikit-learn names).",
                )
        return mapped

    def _solver(self, loss: str) -> str:
        """The engine's solver: scikit-learn's ``"cd"`` is our HALS (Frobenius)."""
        solver = self.solver
        if isinstance(solver, str) and solver in SOLVER_ALIASES:
            if SOLVER_ALIASES[solver] not in losses.get(loss).solvers:
                given = self.beta_loss if self.beta_loss is not None else self.loss
                raise input_error(
                    "solver",
                    f"one of {losses.get(loss).solvers} (or 'auto') for "
                    f"beta_loss={given!r}",
                    repr(solver),
                    f"Invalid beta_loss parameter: solver {solver!r} does not "
                    f"handle beta_loss = {given!r} (scikit-learn's 'cd' is "
                    "coordinate descent on the Frobenius loss); pass "
                    'solver="mu" or solver="auto".',
                )
            solver = SOLVER_ALIASES[solver]
        if bool(self.shuffle) and solver in (
            "auto",
            "hals",
            "ccd",
        ):
            raise input_error(
                "shuffle",
                "False with a coordinate-descent solver (neuronmf's HALS and "
                "ccd update the components in a fixed order)",
                repr(self.shuffle),
                "Drop shuffle=True (it changes only the order of the updates).",
            )
        return solver

    def _rank_and_init(self, X, W, H) -> tuple[int, str]:
        """n_components and the engine's init, with scikit-learn's rules.

        ``"auto"``: the custom H's rows, else n_features; init None:
        "nndsvda" when n_components <= min(n_samples, n_features), else
        "random"; the SVD-based inits refuse more components than that.
        """
        n_samples, n_features = X.shape
        low = min(n_samples, n_features)
        custom = isinstance(self.init, str) and self.init == "custom"
        nc = self.n_components
        if nc is None:
            rank = low
        elif isinstance(nc, str) and nc == "auto":
            rank = "auto" if custom else n_features
        else:
            rank = check.check_int("n_components", nc, 1)
        if custom:
            return rank, "custom"
        if W is not None or H is not None:
            warnings.warn(
                "When init!='custom', provided W or H are ignored. Set "
                "init='custom' to use them as initialization.",
                RuntimeWarning,
                stacklevel=4,
            )
        init = self.init
        if init is None:
            init = "nndsvda" if rank <= low else "random"
        init = check.choice("init", init, (*_SVD_INITS, "random", "custom"))
        if rank > low and init in _SVD_INITS:
            raise input_error(
                "n_components",
                f"<= min(n_samples, n_features) = {low} for init={init!r}",
                rank,
                f"init = '{init}' can only be used when n_components <= "
                "min(n_samples, n_features); use init='random' (or None) or "
                "fewer components.",
            )
        return rank, init

    def _options(self, X, W=None, H=None):
        """Validated engine options for X (n_samples, n_features), before any work.

        W, H: scikit-learn's custom init (W (n_samples, k) is our H.T, H
        (k, n_features) our W.T), used when ``init="custom"``.
        """
        loss = self._loss()
        solver = self._solver(loss)
        rank, init = self._rank_and_init(X, W, H)
        W0 = H0 = None
        if init == "custom":
            n_samples, n_features = X.shape
            H = _custom_factor("H", H, (rank, n_features), X.dtype)
            rank = H.shape[0]
            W = _custom_factor("W", W, (n_samples, rank), X.dtype)
            W0, H0, init = H.T, W.T, "random"
        self._n_components = rank
        return check_options(
            X.T,
            rank,
            loss=loss,
            solver=solver,
            init=init,
            **self._penalties(*X.shape),
            W=W0,
            H=H0,
            update_W=True,
            update_H=True,
            max_iter=self.max_iter,
            tol=self.tol,
            n_restarts=self.n_restarts,
            escape=self.escape,
            seed=self._seed(),
            dtype=None,
        )

    def _validate(self, X, reset: bool):
        """X checked as scikit-learn does (CSR/CSC sparse input kept sparse)."""
        if is_dask(X):  # larger than memory: validated block by block in the fit
            if reset:
                self.n_features_in_ = X.shape[1]
            return X
        X = validate_data(
            self, X, accept_sparse=_SPARSE, dtype=[np.float64, np.float32], reset=reset
        )
        check_non_negative(X, f"{type(self).__name__} (input X)")
        return X

    def _fit(self, options):
        """Run the engine; warn by scikit-learn's rule (n_iter_ = max_iter, tol > 0)."""
        verbose = self.verbose
        verbose = (
            check.check_bool("verbose", verbose)
            if isinstance(verbose, bool | np.bool_)
            else check.check_int("verbose", verbose, 0)
        )
        progress = check.check_bool("progress", self.progress) or bool(verbose)
        with warnings.catch_warnings():
            # the engine's own max_iter warning is replaced by the one below
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            result = fit_matrix(options, progress=progress, zero_factor_warns=True)
        if options.tol > 0 and (
            not result.converged or result.n_iter >= options.max_iter
        ):
            warnings.warn(
                f"NMF stopped at max_iter={options.max_iter} before meeting its "
                f"stopping rule (tol={options.tol}): Maximum number of iterations "
                f"{options.max_iter} reached. Increase it to improve convergence.",
                SklearnConvergenceWarning,
                stacklevel=3,
            )
        return result

    def fit_transform(self, X, y=None, W=None, H=None):
        """Fit on X (n_samples, n_features); return the activations (n_samples, k).

        X may be a CSR/CSC ``scipy.sparse`` array or matrix (passed to the
        engine as it is). ``W`` (n_samples, k) and ``H`` (k, n_features) are
        the starting factors when ``init="custom"`` (scikit-learn's
        orientation and meaning).
        """
        X = self._validate(X, reset=True)
        result = self._fit(self._options(X, W, H))
        self.result_ = result
        self.components_ = np.ascontiguousarray(result.W.T)
        self.n_components_ = self.components_.shape[0]
        self._n_components = self.n_components_
        self.n_iter_ = result.n_iter
        self.reconstruction_err_ = reconstruction_error(X, result)
        return np.ascontiguousarray(result.H.T)

    def fit(self, X, y=None, W=None, H=None):
        """Fit on X (n_samples, n_features); see :meth:`fit_transform`."""
        self.fit_transform(X, W=W, H=H)
        return self

    @property
    def _n_features_out(self) -> int:
        """Number of output features (scikit-learn's get_feature_names_out)."""
        return self.components_.shape[0]

    def _fitted_loss(self) -> str:
        """The loss of the fit (the one ``transform`` must minimise too)."""
        result = getattr(self, "result_", None)
        if result is not None:
            return result.params["loss"]
        return "frobenius"  # partial_fit: online NMF is Frobenius only

    def transform(self, X):
        """Activations of X on the fitted parts, under the fitted loss and penalties.

        Frobenius: exact non-negative least squares; other losses (KL: the
        Poisson maximum-likelihood activations) by :func:`neuronmf.project`.
        The fit's penalties on the activations (``l1_H``, ``l2_H``, or those
        ``alpha_W``/``l1_ratio`` set) apply too, so ``transform(X)`` agrees with
        ``fit_transform(X)`` at convergence (with penalties on both factors the
        fit's activations carry the scale that normalising ``components_``
        moved into them, and the two differ; docs/engine.md).
        """
        check_is_fitted(self)
        loss = self._fitted_loss()
        n_features = self.components_.shape[1]
        pen = self._penalties(1, n_features)
        pen = {"l1_H": pen["l1_H"], "l2_H": pen["l2_H"]}
        if is_dask(X):
            return np.ascontiguousarray(
                project(X.T, self.components_.T, loss=loss, **pen).T
            )
        X = self._validate(X, reset=False)
        W = self.components_.T
        if _all_zero(X) or not W.any():  # penalties may zero every component
            return np.zeros((X.shape[0], self.n_components_), dtype=X.dtype)
        H = project(X.T, W, loss=loss, **pen)
        return np.ascontiguousarray(H.T).astype(X.dtype, copy=False)

    def partial_fit(self, X, y=None, *, memory: float | None = None):
        """Update the parts with one batch of samples (online NMF, Frobenius).

        The sufficient statistics of Mairal et al. (2010) are kept between
        calls (see :mod:`neuronmf.engine.online`), so a recording can be streamed
        in time chunks with O(n_features · n_components) memory.

        Parameters
        ----------
        X : array-like of shape (n_samples_batch, n_features)
        memory : float, optional
            Forgetting time scale in samples (default: twice this batch's size).
        """
        from neuronmf.engine.online import OnlineState, initial_parts

        if not losses.get(self._loss()).online:
            raise input_error(
                "loss for partial_fit",
                '"frobenius" (online NMF minimises the squared error only)',
                self._loss(),
                'Use fit() for this loss, or loss="frobenius" to stream batches.',
            )
        first = not hasattr(self, "online_state_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=first)
        check_non_negative(X, f"{type(self).__name__} (input X)")
        if self.n_components is None:
            rank = min(X.shape)
        elif isinstance(self.n_components, str) and self.n_components == "auto":
            rank = X.shape[1]
        else:
            rank = check.check_int("n_components", self.n_components, 1)
        b = X.shape[0]
        memory = (
            2.0 * b
            if memory is None
            else check.check_real("memory", memory, 0.0, strict=True)
        )
        penalties = {
            k: check.check_real(k, v, 0.0) for k, v in self._penalties(*X.shape).items()
        }
        if first:
            self.online_state_ = OnlineState(initial_parts(X.T, rank, self._seed()))
        self.online_state_.update(X.T, memory, **penalties)
        W = self.online_state_.W
        norms = np.linalg.norm(W, axis=0)
        self.components_ = np.ascontiguousarray((W / np.where(norms > 0, norms, 1)).T)
        self.n_components_ = rank
        return self

    def inverse_transform(self, X):
        """Back to feature space: X (n_samples, n_components) · components_."""
        check_is_fitted(self)
        X = check_array(X, accept_sparse=_SPARSE, dtype=[np.float64, np.float32])
        return np.asarray(X @ self.components_)

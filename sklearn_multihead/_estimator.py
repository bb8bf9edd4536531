"""``JointRegressorClassifier``: one multi-head network for mixed targets.

Inside:

- ``JointRegressorClassifier``: the scikit-learn estimator. ``fit`` validates
  its parameters and data, encodes the targets (``_targets.TargetEncoder``),
  builds the module (``_module.MultiHeadMLP``) and the loss
  (``_losses.JointLoss``) and trains them through a skorch net
  (``_net.JointNet``) owned as ``net_``; ``predict`` / ``predict_proba`` /
  ``score`` decode the outputs back to the original labels and units.

Beside it: ``_training`` (the module / loss configurations, the skorch net,
the validation split), ``_xcheck`` (X checked and turned into the feature
plan's matrix), ``_predict`` (``predict``, ``predict_proba``,
``decision_function``), ``_continue`` (``warm_start``, ``partial_fit``),
``_netfile`` (``save`` / ``load``), ``_summary`` (``summary``), ``_health`` (warnings
about the training), ``_threads`` (the thread policy), ``_netrules`` (the
parameters' rules).
"""

import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from sklearn_multihead._base import JointTargetsMixin
from sklearn_multihead._continue import ContinuedTrainingMixin
from sklearn_multihead._health import many_class_warnings
from sklearn_multihead._net import (
    TensorData,
    as_tensor,
    resolve_device,
    thread_budget,
)
from sklearn_multihead._netfile import NetworkFileMixin
from sklearn_multihead._netrules import NETWORK_RULES
from sklearn_multihead._params import validated_fit
from sklearn_multihead._predict import NetworkPredictMixin
from sklearn_multihead._summary import network_summary
from sklearn_multihead._targets import TargetEncoder
from sklearn_multihead._training import (
    AUTO_EARLY_STOPPING_ROWS,
    TrainingSetupMixin,
)
from sklearn_multihead._xcheck import FeatureCheckMixin

__all__ = ["JointRegressorClassifier"]


class JointRegressorClassifier(
    TrainingSetupMixin,
    FeatureCheckMixin,
    NetworkPredictMixin,
    NetworkFileMixin,
    ContinuedTrainingMixin,
    JointTargetsMixin,
    BaseEstimator,
):
    """One neural network for several regression and classification targets.

    A shared multi-layer perceptron (the trunk) feeds one output head per
    target; all heads are trained together on the sum of their (weighted)
    losses. Regression targets are standardised inside and predicted in their
    own units; classification targets are predicted as their original labels.
    A missing target cell (NaN, None or ``pd.NA``) adds no loss, and the row
    still trains the other heads.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(128, 128)
        Widths of the shared trunk's hidden layers.
    activation : {"relu", "tanh", "logistic", "identity", "gelu", "silu"}, \
            default="relu"
        Activation of every hidden layer.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.
    batch_norm : bool, default=False
        Batch normalisation after each hidden linear layer.
    head_hidden_layer_sizes : tuple of int, default=()
        Hidden layers private to each head. Empty: all heads share one fused
        output layer (fastest).
    categorical_features : "from_dtype", None, or list, default="from_dtype"
        Which columns of X are categories. ``"from_dtype"``: the columns of a
        DataFrame X with a category, string, object or bool dtype. A list:
        column names, integer indices, or one boolean per column. None: all
        columns are numeric. Each categorical column gets a small learned
        embedding; categories seen fewer than 2 times in fit, and those unseen
        in fit, share one "unknown" embedding, a missing cell has its own, and
        at most the 1,000 most frequent categories of a column get their own
        (a column of IDs costs no memory).
    numeric_transform : {"robust", "none"}, default="robust"
        ``"robust"``: numeric features are centred on their median, divided by
        their interquartile range / 1.349, and smoothly clipped to about +-3
        (``z / sqrt(1 + (z / 3)^2)``, as RealMLP does), so outliers and
        data-entry errors cannot push the network far outside its training
        range. ``"none"``: the numbers go in as they are. Missing numbers are
        filled with the median (``"robust"``) or with 0 (``"none"``), and every
        column that had a missing value in fit gets a 0 / 1 missing indicator.
        Above 200,000 rows, medians, spreads and quantile bins come from a
        fixed random sample of 200,000 rows (as HistGradientBoosting bins).
    numeric_embedding : {"piecewise", "periodic", None}, default="piecewise"
        How each numeric feature enters the trunk (Gorishniy et al. 2022;
        ``rtdl_num_embeddings``). ``"piecewise"``: a learned vector of 8,
        linear between the edges of up to 48 quantile bins of the feature
        (fitted on the training rows; linear at the start, TabM's version
        "B"), so a step in a few-valued feature is easy to learn.
        ``"periodic"``: 8 learned periodic features (lite). None: the
        transformed number itself.
    n_ensemble : int, default=1
        k > 1: a TabM ensemble of k trunks sharing their weights up to
        rank-one adapters, each trained on its own loss, their predictions
        averaged (probabilities for classes). About k times the compute.
    n_models : int, default=5
        Networks fitted one after the other, each with its own initial
        weights, validation split (early stopping) and stopping epoch; their
        predictions are averaged (probabilities for classes). n_models times
        the fit and predict time, for predictions that vary less with the
        seed, use every row, and are better calibrated (on the benchmark's
        tables: a mean relative score of 0.975 with 5 against 0.972 with 3;
        0.933 with 1, measured at ``alpha=1e-4``).
        1 for the fastest fit.
        ``history_`` and the curves describe the last one; ``warm_start`` and
        ``partial_fit`` train them further together.
    target_types : "auto", list or dict, default="auto"
        Type of each target column, ``"regression"`` or ``"classification"``.
        ``"auto"`` decides by dtype: floating -> regression; integer, bool,
        string and category -> classification. A dict by column name types
        some columns and leaves the rest to "auto".
    regression_loss : {"squared_error", "absolute_error", "huber"}, \
            default="squared_error"
        Loss of the regression heads, on standardised targets.
    loss_weights : None, list, dict or "uncertainty", default=None
        Weight of each target's loss in the sum: None for equal weights, a list
        with one weight per target, a dict by target name (missing names get
        1), or ``"uncertainty"`` to learn them (Kendall, Gal & Cipolla, 2018).
    class_weight : None, "balanced", list or dict, default=None
        Per-class weights of the classification targets: ``"balanced"`` for
        all of them, a list with one entry (None, "balanced" or a dict
        ``{label: weight}``) per classification target, or a dict by target
        name of such entries.
    alpha : float, default=1e-3
        L2 penalty, as Adam's ``weight_decay``, on the network's parameters.
    batch_size : int or "auto", default="auto"
        Mini-batch size; "auto" is a power of 2 between 16 and 256 that gives
        at least 16 batches per epoch where the rows allow (256 from 4,096
        training rows; never more than the rows).
    learning_rate_init : float, default=4e-3
        Adam's learning rate.
    max_iter : int, default=200
        Maximum number of epochs.
    early_stopping : bool or "auto", default="auto"
        Hold out ``validation_fraction`` of the rows, stop when their loss has
        not improved by ``tol`` for ``n_iter_no_change`` epochs, and restore the
        best weights. When False, training stops when the training loss stalls
        in the same way (and a network trained to the end of a long run
        overfits). ``"auto"``: on from 200 training rows.
    validation_fraction : float, default=0.1
        Share of rows held out when early stopping is on.
    n_iter_no_change : int, default=16
        Epochs without improvement before training stops.
    tol : float, default=1e-4
        Smallest loss decrease that counts as an improvement.
    device : str, default="cpu"
        Torch device: "cpu", "cuda", "cuda:N", or "auto" (a GPU when there is
        one).
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch order, dropout and the validation
        split. With an int, fits on the CPU are bit-identical, and the global
        numpy and torch random states are left untouched.
    verbose : int, default=0
        1: print one line per epoch with total and per-target losses. 2: also
        show a progress bar over each epoch's batches (tqdm), for long epochs.
    warm_start : bool, default=False
        When True, ``fit`` on a fitted model trains it further (up to
        ``max_iter`` more epochs from the current weights and optimiser state)
        instead of starting again; y must have the same target columns and no
        new class label. ``partial_fit`` trains one epoch on given rows.
        Continuing needs the model fitted in this process (a loaded model has
        no optimiser state).
    n_threads : int, default=None
        torch's intra-op threads for fit and predict. None: one thread for
        small steps (rows per batch x widest layer below 32,768, where a
        second thread gains nothing and costs 4-50 x on a busy CPU), else the
        cores that no other task is using, within ``OMP_NUM_THREADS`` and
        threadpoolctl limits when set. -1: every thread torch may use. An int:
        that many. torch's own setting is restored after each call.
    callbacks : list of skorch callbacks or (name, callback) pairs, default=None
        Extra skorch callbacks, run after the package's own at each step of
        training (e.g. ``on_epoch_end`` for progress reports, as the command
        line does). They are cloned with the estimator and not saved by
        ``save``.

    Attributes
    ----------
    target_types_ : list of str
        Type of each target.
    classes_ : list or ndarray
        For each target, the array of its class labels, or None for a
        regression target. Fitted on a 1-D classification y: that target's
        label array, as a scikit-learn classifier has; on a 1-D regression
        y: absent.
    n_outputs_ : int
        Number of targets.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when X is a DataFrame with string column names.
    net_ : skorch.NeuralNet
        The fitted skorch net; ``net_.module_`` is the torch module.
    history_ : pandas.DataFrame
        One row per epoch: ``train_loss``, ``train_loss_<target>`` and, with
        early stopping, ``valid_loss`` and ``valid_loss_<target>``.
    n_iter_ : int
        Number of epochs run.
    early_stopping_ : bool
        Whether this fit held out a validation split and stopped on it.
    loss_curve_ : list of float
        Training loss per epoch (``history_["train_loss"]``).
    best_loss_ : float or None
        The lowest training loss; None with early stopping.
    validation_scores_ : list of float or None
        With early stopping, the mean over targets of R^2 (regression) and
        accuracy (classification) on the held-out rows after each epoch;
        else None.
    best_validation_score_ : float or None
        The best of ``validation_scores_``.
    target_classes_ : list
        Per target, its class labels or None (``classes_`` is this list with
        several targets, the one array for a 1-D classification y, and absent
        for a 1-D regression y).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn_multihead import JointRegressorClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 3))
    >>> Y = pd.DataFrame({"size": X[:, 0] * 2.0, "big": X[:, 1] > 0})
    >>> est = JointRegressorClassifier(max_iter=20, random_state=0).fit(X, Y)
    >>> est.target_types_
    ['regression', 'classification']
    >>> est.predict(X[:2]).dtypes.tolist()
    [dtype('float64'), dtype('bool')]
    """

    _parameter_rules = NETWORK_RULES

    def __init__(
        self,
        hidden_layer_sizes=(128, 128),
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        head_hidden_layer_sizes=(),
        categorical_features="from_dtype",
        numeric_transform="robust",
        numeric_embedding="piecewise",
        n_ensemble=1,
        n_models=5,
        target_types="auto",
        regression_loss="squared_error",
        loss_weights=None,
        class_weight=None,
        alpha=1e-3,
        batch_size="auto",
        learning_rate_init=4e-3,
        max_iter=200,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=16,
        tol=1e-4,
        device="cpu",
        random_state=None,
        verbose=0,
        warm_start=False,
        n_threads=None,
        callbacks=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.head_hidden_layer_sizes = head_hidden_layer_sizes
        self.categorical_features = categorical_features
        self.numeric_transform = numeric_transform
        self.numeric_embedding = numeric_embedding
        self.n_ensemble = n_ensemble
        self.n_models = n_models
        self.target_types = target_types
        self.regression_loss = regression_loss
        self.loss_weights = loss_weights
        self.class_weight = class_weight
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_threads = n_threads
        self.callbacks = callbacks

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # -- fit ----------------------------------------------------------------------
    @validated_fit
    def fit(self, X, y, sample_weight=None):
        """Fit the network to X and the targets y.

        Parameters
        ----------
        X : array-like, DataFrame or sparse matrix of shape (n_samples, n_features)
            Features: numbers, and in a DataFrame categorical columns too (see
            ``categorical_features``); missing cells allowed.
        y : array-like or DataFrame of shape (n_samples, n_targets) or (n_samples,)
            Targets, of mixed types; missing cells (NaN, None, ``pd.NA``) are
            ignored by the loss.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each row in every target's loss.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        with thread_budget():
            return self._fit_keeping_state_on_error(X, y, sample_weight)

    def _fit(self, X, y, sample_weight, epochs=None, more=False):
        """A new fit; or, with ``more`` (``partial_fit``) or ``warm_start`` on a
        fitted model, more training. ``epochs``: at most this many (else
        ``max_iter``); ``epochs=1`` without ``more``: a first ``partial_fit``."""
        if more or (self.warm_start and hasattr(self, "net_")):
            if not hasattr(self.net_, "callbacks_") or "stopper" not in dict(
                self.net_.callbacks_
            ):
                raise ValueError(
                    "This model was loaded from a file: it has no optimiser state "
                    "to continue from. Fit it again, or fit a new model with "
                    "warm_start=False."
                )
            return self._continue_fit(
                X, y, sample_weight, epochs or self.max_iter, chunk=more
            )
        first_chunk = epochs == 1
        X, sample_weight = self._validate_fit_data(X, y, sample_weight, np.float32)
        encoder = TargetEncoder(self.target_types)
        Y = encoder.fit_transform(y, sample_weight)
        for message in many_class_warnings(encoder, Y):
            warnings.warn(
                f"{type(self).__name__}: {message}", UserWarning, stacklevel=5
            )
        self._encoder = encoder
        self._set_target_attributes(encoder)

        head_kinds = [
            self._head_kind(t, c)
            for t, c in zip(self.target_types_, self.target_classes_)
        ]
        self.device_ = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        seeds = [int(rng.randint(np.iinfo(np.int32).max)) for _ in range(self.n_models)]
        data = TensorData(
            as_tensor(X, self.device_),
            as_tensor(Y, self.device_),
            None if sample_weight is None else as_tensor(sample_weight, self.device_),
        )
        self.early_stopping_ = (
            len(data) >= AUTO_EARLY_STOPPING_ROWS
            if self.early_stopping == "auto"
            else bool(self.early_stopping)
        ) and not first_chunk
        numbers = self._network_configs(X, Y, sample_weight, head_kinds)
        reached_max_iter = self._train_networks(
            data, seeds, head_kinds, numbers, epochs, first_chunk
        )
        if reached_max_iter and not first_chunk:
            warnings.warn(
                f"{type(self).__name__}: max_iter={self.max_iter} epochs were reached "
                "before the loss stopped improving. Raise max_iter, or set tol / "
                "n_iter_no_change, if the model underfits.",
                ConvergenceWarning,
                stacklevel=5,  # the user's call of fit or partial_fit
            )
        return self

    def summary(self):
        """A text table of the fitted network, like Keras' ``model.summary()``.

        One line per layer (name, type, output shape, parameters), then one line
        per head (the output columns it owns, its kind and what ``predict``
        returns for it), then the parameter counts.

        Returns
        -------
        text : str
            Print it: ``print(est.summary())``.
        """
        check_is_fitted(self)
        return network_summary(self)

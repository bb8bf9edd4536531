"""``JointRegressorClassifier``: one multi-head network for mixed targets,
the whole class, read top to bottom.

``fit`` checks its parameters and data, learns the feature plan
(``features.FeaturePlan``) and the target encoding (``_targets.TargetEncoder``),
builds the module (``module.build_module``) and the loss (``loss.JointLoss``),
and trains them through skorch (``net.JointNet``, owned as ``net_``): the
``n_models`` networks packed into one module (``module.PackedMLPs``, stopped
one by one by ``net.MemberStopping``), or one after the other, then the
heads still learning at a network's stop further (``heads``);
``predict`` / ``predict_proba`` / ``score`` decode the
outputs back to the original labels and units; ``save`` / ``load`` write and
read safe files (``serialization``). The functions it calls take explicit
arguments: ``training`` (batch size, validation split, threads, warnings),
``weights`` (loss and class weights), ``summary`` (``summary()``).
"""

import contextlib
import copy
import warnings
from numbers import Integral, Real
from types import SimpleNamespace

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    validate_data,
)
from skorch.callbacks import PrintLog, ProgressBar

from sklearn_multihead._base import (
    JointTargetsMixin,
    has_classification_target,
    interval_residuals,
    is_single_classifier,
    residual_arrays,
)
from sklearn_multihead._joint.calibration import HeldOutLogits
from sklearn_multihead._joint.features import (
    ENCODING_PREFIX,
    FeaturePlan,
    has_discrete_columns,
    needs_plan,
    numeric_statistics,
    quantile_edges,
    statistics_rows,
)
from sklearn_multihead._joint.heads import HeldHeadsLoss, still_learning, with_outputs
from sklearn_multihead._joint.loss import REGRESSION_LOSSES, JointLoss
from sklearn_multihead._joint.module import (
    ACTIVATIONS,
    MAX_BINS,
    N_BINS,
    NUMERIC_TRANSFORMS,
    AveragedMLPs,
    PackedMLPs,
    average_members,
    bin_edges,
    build_module,
)
from sklearn_multihead._joint.net import (
    PREDICT_FLOATS,
    JointNet,
    MemberRows,
    MemberSplit,
    MemberStopping,
    StopOnPlateau,
    TensorData,
    ValidationScore,
    as_tensor,
    eval_batch_size,
    eval_outputs,
    head_decisions,
    resolve_device,
    widest_layer,
)
from sklearn_multihead._joint.serialization import (
    check_network_file,
    checked_temperatures,
    load_network_tensors,
)
from sklearn_multihead._joint.summary import network_summary
from sklearn_multihead._joint.training import (
    AUTO_EARLY_STOPPING_ROWS,
    PREDICT_PARALLEL_WORK,
    HeldOutWeights,
    PredefinedSplit,
    adaptive_schedule,
    auto_batch_size,
    constant_loss,
    flushed_denormals,
    head_kind,
    layer_sizes,
    many_class_warnings,
    named_callbacks,
    split_rows,
    threads_for,
    torch_threads,
    training_warnings,
)
from sklearn_multihead._joint.weights import (
    class_weight_entries,
    resolve_class_weights,
    resolve_loss_weights,
)
from sklearn_multihead._targets import TargetEncoder, as_target_columns
from sklearn_multihead._validation import (
    Interval,
    Options,
    StrOptions,
    check_params,
    check_sample_weight,
    validated_fit,
)

__all__ = ["JointRegressorClassifier"]

#: ``target_networks="auto"``: below this many rows given to fit, every
#: target also gets a model of its own. On the benchmark's tables the gain
#: shrinks with the rows (per table, error 0.95-1.00x at up to 2,250
#: training rows, 0.99-1.00x from 3,100 to 4,700) while the fit costs 2-5x
#: (benchmarks/README.md, "Each target's own model beside the joint one")
AUTO_TARGET_NETWORKS_ROWS = 2_500
#: ... and with at most this many targets: each adds a fit, and the
#: benchmark's tables have 2 to 4 (a multi-label table of 20 tags would
#: cost 21 fits for a gain nobody measured)
AUTO_TARGET_NETWORKS_TARGETS = 4
#: the model file's tensors of target network i start with this and "i."
TARGET_NETWORKS_PREFIX = "target_networks."

#: the constructor's parameters, as rules that ``_validation`` checks at
#: ``fit``, ``partial_fit`` and ``load``
NETWORK_RULES = {
    "hidden_layer_sizes": [
        "array-like",
        Interval(Integral, 1, None, closed="left"),
    ],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "batch_norm": ["boolean"],
    "head_hidden_layer_sizes": ["array-like"],
    "categorical_features": [StrOptions({"from_dtype"}), None, "array-like"],
    "target_encoding": [StrOptions({"auto"}), None],
    "discrete_numeric": [StrOptions({"auto"}), None],
    "numeric_transform": [StrOptions(set(NUMERIC_TRANSFORMS))],
    "numeric_embedding": [None, StrOptions({"periodic", "piecewise"})],
    "n_bins": [Interval(Integral, 2, MAX_BINS, closed="both")],
    "n_ensemble": [Interval(Integral, 1, None, closed="left")],
    "n_models": [Interval(Integral, 1, None, closed="left")],
    "pack_models": ["boolean"],
    "target_types": [StrOptions({"auto"}), list, tuple, dict],
    "regression_loss": [StrOptions(set(REGRESSION_LOSSES))],
    "loss_weights": [
        None,
        StrOptions({"auto", "held_out", "uncertainty"}),
        list,
        tuple,
        dict,
        np.ndarray,
    ],
    "class_weight": [None, StrOptions({"balanced"}), list, tuple, dict],
    "alpha": [Interval(Real, 0, None, closed="left")],
    "batch_size": [
        StrOptions({"auto"}),
        Interval(Integral, 1, None, closed="left"),
    ],
    "learning_rate": [StrOptions({"constant", "adaptive"})],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "early_stopping": ["boolean", StrOptions({"auto"})],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left")],
    "device": [str],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "calibrate": ["boolean"],
    "continue_heads": ["boolean"],
    "target_networks": ["boolean", StrOptions({"auto"})],
    "n_threads": [
        None,
        Interval(Integral, 1, None, closed="left"),
        Options(Integral, {-1}),
    ],
    "callbacks": [None, list],
}


class JointRegressorClassifier(JointTargetsMixin, BaseEstimator):
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
    target_encoding : "auto" or None, default="auto"
        ``"auto"``: a categorical column whose categories are mostly too rare
        for an embedding to learn (categories seen 2 to 9 times in fit hold at
        least 10% of its known cells: names, models, tail numbers) also
        enters as numbers: per classification target (up to 32 classes), each
        class's share among the fit rows of the row's category, shrunk
        towards its overall share (scikit-learn's ``TargetEncoder``; a
        category seen once in fit counts too, unseen ones get the overall
        share). In fit a row's numbers come from the other four of five
        folds, never from its own label. Sample weights only exclude rows of
        weight 0 here. Columns of IDs (no category seen twice) and columns of
        few, frequent categories are left to the embedding alone. Training
        further (``partial_fit``, ``warm_start``) uses the first fit's
        shares, which hold the labels of that fit's rows: train further on
        new rows. None: embeddings only.
    discrete_numeric : "auto" or None, default="auto"
        ``"auto"``: a numeric column of 49 to 256 distinct values in fit
        (more than the default's 48 quantile bins keep apart), with at least
        64 known cells per value (disk sizes, school numbers, years of
        experience in a large table), also enters as a categorical column,
        beside its numeric embedding: each of its values gets an embedding
        of its own, so the network can single out one exact value as a tree
        can. A value unseen in fit gets the "unknown" embedding; its numeric
        embedding still places it. None: numbers enter as numbers only.
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
        How each numeric feature enters the trunk (Gorishniy et al. 2022).
        ``"piecewise"``: a learned vector of 8,
        linear between the edges of up to ``n_bins`` quantile bins of the feature
        (fitted on the training rows; linear at the start, TabM's version
        "B"), so a step in a few-valued feature is easy to learn.
        ``"periodic"``: 8 learned periodic features (lite, from
        ``rtdl_num_embeddings``). None: the transformed number itself.
    n_bins : int, default=48
        The most quantile bins of a numeric feature with
        ``numeric_embedding="piecewise"`` (a feature with fewer distinct
        values gets fewer), from 2 to 1024. More bins let the embedding place
        a step more exactly, at more compute per row.
    n_ensemble : int, default=1
        k > 1: a TabM ensemble of k trunks sharing their weights up to
        rank-one adapters, each trained on its own loss, their predictions
        averaged (probabilities for classes). About k times the compute.
    n_models : int, default=5
        Networks, each with its own initial weights, validation split (early
        stopping) and stopping epoch (trained together: ``pack_models``);
        their predictions are averaged (probabilities for classes). n_models
        times the compute of one, for predictions that vary less with the
        seed, use every row, and are better calibrated (on the benchmark's
        tables: a mean relative score of 0.975 with 5 against 0.972 with 3;
        0.933 with 1, measured at ``alpha=1e-4``).
        1 for the fastest fit.
        ``history_`` and the curves describe the last one (with
        ``pack_models``, all of them); ``warm_start`` and ``partial_fit``
        train them further together.
    pack_models : bool, default=True
        Train the ``n_models`` networks as one packed module (a member axis
        on every weight; one step of all of them, not one step each), each
        still with its own initial weights, validation rows, batch order,
        stopping epoch and Adam moments; a network that has stopped leaves
        the module. The same networks, at 0.52x the CPU time on abalone
        (on the benchmark's 19 tables: 0.47-0.80x, then a further
        0.73-0.89x since every layer takes the member axis;
        ``benchmarks/README.md``).
        Used where early stopping
        is on and the networks have no batch normalisation, no
        ``n_ensemble`` and a dense X; elsewhere, and with False, the
        networks are fitted one after the other. What differs from False:
        ``history_`` records all the networks at once (losses averaged over
        the networks still training, ``members_training``),
        ``"held_out"`` loss weights are set from all networks' validation
        losses, and the fit's user callbacks see one training, not one per
        network.
    target_types : "auto", list or dict, default="auto"
        Type of each target column, ``"regression"`` or ``"classification"``.
        ``"auto"`` decides by dtype: floating -> regression; integer, bool,
        string and category -> classification. A dict by column name types
        some columns and leaves the rest to "auto".
    regression_loss : {"squared_error", "absolute_error", "huber"}, \
            default="squared_error"
        Loss of the regression heads, on standardised targets.
    loss_weights : "auto", None, list, dict, "held_out" or "uncertainty", \
            default="auto"
        Weight of each target's loss in the sum: None for equal weights, a list
        with one weight per target, a dict by target name (missing names get
        1), ``"uncertainty"`` to learn them (Kendall, Gal & Cipolla, 2018), or
        ``"held_out"`` to set them after every epoch from the validation
        losses: a target whose validation loss is below half of its best
        constant prediction's (for a regression target, R² above about 0.5)
        is weighted up to count as much as one at half, so a target the
        features predict almost exactly is not drowned by noisier ones
        (``history_`` records the weights as ``loss_weight_<target>``, and
        early stopping watches the losses with equal weights). It needs a
        validation split. ``"auto"`` is ``"held_out"`` when fit is given
        10,000 rows or more with a validation split, and equal weights below,
        where the validation losses are too few rows to weigh by.
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
    learning_rate : {"constant", "adaptive"}, default="constant"
        Adam's learning rate schedule. "constant" keeps ``learning_rate_init``.
        "adaptive" divides it by 5 each time the watched loss (the
        validation loss with early stopping, else the training loss) has not
        improved by ``tol`` for ``n_iter_no_change // 4`` epochs, as
        scikit-learn's MLP does with ``learning_rate="adaptive"`` (skorch's
        ``LRScheduler`` with torch's ``ReduceLROnPlateau``; the rate of each
        epoch is in ``history_`` as ``"event_lr"``). Further training
        (``warm_start``, ``partial_fit``) starts again from
        ``learning_rate_init``, and a ``partial_fit`` chunk of one epoch is
        too short for a cut.
    learning_rate_init : float, default=4e-3
        Adam's (initial) learning rate.
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
    calibrate : bool, default=False
        Temperature scaling of the classification heads: after the networks
        have trained, their logits of a classification target are divided by
        the one number that minimises the log loss of the rows each network
        held out for early stopping, as that network predicts them (at least
        100 known labels over the networks; else 1). The class one network
        predicts does not change. Off by default: on the benchmark's real
        tables the default model's test log loss was the same with it (a
        mean ratio of 0.9997 over 12 class targets and 3 splits) and its
        calibration error slightly higher (+0.004), as averaged, early-stopped
        networks are about as sure as their held-out rows can show. It helps
        a model whose class heads were trained past their best, e.g. by a
        large weight on a regression target. Needs early stopping; see
        ``temperatures_`` (the joint networks'; each of ``target_networks_``
        has its own).
    continue_heads : bool, default=True
        Train further the heads that were still learning when a network
        stopped: a network stops where the total of its targets' validation
        losses stops improving, and a target whose own validation loss kept
        falling after that epoch (often a small class target beside others
        that are learnt sooner) is then trained on alone, each other head held
        to the outputs it had by a squared-error term on the training rows.
        The network keeps the epoch of that training with the best total
        validation loss, or its weights at the stop when none is better. This
        runs through skorch's loop with the package's own callbacks (stopping,
        the learning-rate schedule, the log); the user's ``callbacks`` see the
        networks' training before it, not this, so their state is kept. It
        costs time only for networks with such a target; see
        ``continued_epochs_``. Needs early stopping, ``n_ensemble=1`` and two
        targets or more.
    target_networks : "auto" or bool, default="auto"
        Beside the joint networks, fit each target's own: a model of the same
        parameters on that target alone (``target_networks_``), and predict
        each target by the average of the two (the mean of their numbers, or
        of their class probabilities). Targets that the others' sharing of
        the trunk costs (a small class target beside noisier ones) get a
        model that did not share it, and every target an ensemble of two
        kinds of networks. ``"auto"``: on when fit is given fewer than
        2,500 rows and two to four targets, where it gains most; it costs
        about one more fit per target (so it is off with more targets,
        such as many yes/no tags), a few seconds on such tables. The target
        networks train after the joint ones, with the same seeds (so the
        same validation rows), without the user's ``callbacks`` and silently;
        ``history_``, ``n_iter_`` and the curves describe the joint networks.
        A first ``partial_fit`` fits none; later ``partial_fit`` calls and
        ``warm_start`` train those of a fitted model further, after the joint
        networks. Predicting costs one pass more per target.

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
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when X is a DataFrame with string column names.
    net_ : skorch.NeuralNet
        The fitted skorch net; ``net_.module_`` is the torch module.
    history_ : pandas.DataFrame
        One row per epoch: ``train_loss``, ``train_loss_<target>`` and, with
        early stopping, ``valid_loss`` and ``valid_loss_<target>``. With
        packed networks (``pack_models``) the losses are over the networks
        still training (each on its own rows), and ``members_training``
        counts them after each epoch.
    n_iter_ : int
        Number of epochs run (packed networks: by the one that trained
        longest).
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
    interval_residuals_ : list
        Per target, the sorted absolute residuals (in the target's units) of
        the rows held out of the networks that did not train on them, which
        calibrate ``predict_interval`` (with ``target_networks_``, of the
        average of the joint networks' and the target's own model's held-out
        predictions: both hold out the same rows); None for a classification
        target, and for every target without early stopping or after more
        training.
    continued_epochs_ : list of int
        Per network of the last ``fit``, the epoch of its further training
        for the targets still learning that it kept (``continue_heads``); 0
        where it had none, or none beat its weights at the stop. Empty
        without ``continue_heads`` or early stopping, with ``n_ensemble`` > 1
        or one target.
    target_networks_ : list
        Per target, the fitted model of that target alone whose predictions
        are averaged with the joint networks' (``target_networks``); empty
        when there are none.
    temperatures_ : ndarray of shape (n_targets,)
        Per target, the temperature every network's logits are divided by
        (``calibrate``); 1.0 for regression targets, for every target without
        early stopping or calibration, and after more training.
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
    _NO_RESIDUALS = (
        "it was fitted without early stopping (early_stopping='auto' holds out "
        "rows from 200 rows on), or trained further with partial_fit or "
        "warm_start since. Fit it with early_stopping=True for intervals."
    )
    #: private attributes set by fit (besides the public ones ending in "_")
    _FIT_STATE = ("_encoder", "_features", "_module_config", "_loss_config")

    def __init__(
        self,
        hidden_layer_sizes=(128, 128),
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        head_hidden_layer_sizes=(),
        categorical_features="from_dtype",
        target_encoding="auto",
        discrete_numeric="auto",
        numeric_transform="robust",
        numeric_embedding="piecewise",
        n_bins=N_BINS,
        n_ensemble=1,
        n_models=5,
        pack_models=True,
        target_types="auto",
        regression_loss="squared_error",
        loss_weights="auto",
        class_weight=None,
        alpha=1e-3,
        batch_size="auto",
        learning_rate="constant",
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
        calibrate=False,
        continue_heads=True,
        target_networks="auto",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.head_hidden_layer_sizes = head_hidden_layer_sizes
        self.categorical_features = categorical_features
        self.target_encoding = target_encoding
        self.discrete_numeric = discrete_numeric
        self.numeric_transform = numeric_transform
        self.numeric_embedding = numeric_embedding
        self.n_bins = n_bins
        self.n_ensemble = n_ensemble
        self.n_models = n_models
        self.pack_models = pack_models
        self.target_types = target_types
        self.regression_loss = regression_loss
        self.loss_weights = loss_weights
        self.class_weight = class_weight
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
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
        self.calibrate = calibrate
        self.continue_heads = continue_heads
        self.target_networks = target_networks

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
        return self._fit_keeping_state_on_error(X, y, sample_weight)

    def _fit(
        self, X, y, sample_weight, epochs=None, more=False, seeds=None, alone=False
    ):
        """A new fit; or, with ``more`` (``partial_fit``) or ``warm_start`` on a
        fitted model, more training. ``epochs``: at most this many (else
        ``max_iter``); ``epochs=1`` without ``more``: a first ``partial_fit``.
        ``seeds``: the networks' seeds (a target's own networks get the joint
        ones'), else drawn from ``random_state``. ``alone``: a target's own
        model (``target_networks_``), which keeps its networks' held-out
        predictions for the joint model (``_held_out_fit``)."""
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
        given = (X, y, sample_weight)  # as the user gave them: for target_networks
        X, sample_weight = self._validate_fit_data(
            X, y, sample_weight, np.float32, planned=False
        )
        encoder = TargetEncoder(self.target_types)
        Y = encoder.fit_transform(y, sample_weight)
        for message in many_class_warnings(encoder, Y):
            warnings.warn(
                f"{type(self).__name__}: {message}", UserWarning, stacklevel=5
            )
        self._encoder = encoder
        self._set_target_attributes(encoder)

        head_kinds = self._head_kinds()
        self.device_ = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        if seeds is None:
            seeds = [
                int(rng.randint(np.iinfo(np.int32).max)) for _ in range(self.n_models)
            ]
        # the target encoding's folds from the first network's seed (no draw:
        # a table without an encoded column is fitted as before)
        X = self._planned(X, True, sample_weight, Y=Y, seed=seeds[0])
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
        # fitted: every layer in eval mode (however the last epoch ended),
        # so predict uses the network as it is and dropout is off
        self.net_.module_.train(False)
        # a target's own model keeps them for the joint one, which drops both
        held_out = None if alone else self.__dict__.pop("_held_out_fit", None)
        self.target_networks_ = []
        if self._fits_target_networks(len(data), first_chunk):
            self._fit_target_networks(*given, seeds, Y, held_out)
        if reached_max_iter and not first_chunk:
            warnings.warn(
                f"{type(self).__name__}: max_iter={self.max_iter} epochs were reached "
                "before the loss stopped improving. Raise max_iter, or set tol / "
                "n_iter_no_change, if the model underfits.",
                ConvergenceWarning,
                stacklevel=5,  # the user's call of fit or partial_fit
            )
        return self

    # -- training further: partial_fit and warm_start --------------------------
    @validated_fit
    def partial_fit(self, X, y, sample_weight=None):
        """One pass over the rows of (X, y): the first call builds the model,
        later ones train it further.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like or DataFrame of shape (n_samples, n_targets)
            The targets of these rows; their columns, types and class labels
            must be those of the first call.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        if not hasattr(self, "net_"):
            return self._fit_keeping_state_on_error(X, y, sample_weight, 1)
        return self._fit_keeping_state_on_error(X, y, sample_weight, 1, True)

    def _continue_fit(self, X, y, sample_weight, epochs, chunk):
        """Train the fitted network further on (X, y); ``chunk``: a
        ``partial_fit`` call (no validation split). Each target's own
        networks (``target_networks_``) train further after the joint ones."""
        given = (X, sample_weight)
        X, sample_weight = self._validate_fit_data(
            X, y, sample_weight, np.float32, reset=False
        )
        Y = self._encode_more(y)
        data = TensorData(
            as_tensor(X, self.device_),
            as_tensor(Y, self.device_),
            None if sample_weight is None else as_tensor(sample_weight, self.device_),
        )
        net = self.net_
        # the temperatures and held-out residuals described the networks
        # before this training (and the validation loss is taken without
        # the temperatures, as in the first fit)
        before = getattr(self, "temperatures_", np.ones(self.n_outputs_))
        self._set_temperatures(np.ones(self.n_outputs_))
        self.interval_residuals_ = [None] * self.n_outputs_
        net.train_split = False
        for group in net.optimizer_.param_groups:  # the schedule starts again
            group["lr"] = self.learning_rate_init
        if self.early_stopping_ and not chunk:
            seed = int(np.random.RandomState(len(net.history)).randint(2**31 - 1))
            data, valid = self._split(data, seed)
            net.train_split = PredefinedSplit(valid)
            scorer = dict(net.callbacks_).get("valid_score")
            if scorer is not None:
                scorer.valid = valid
        work = net.batch_size * widest_layer(net.module_)
        stopper = dict(net.callbacks_)["stopper"]
        monitor = stopper.monitor
        if net.train_split is False:  # a chunk after an early-stopped fit
            stopper.monitor = "train_loss"  # there is no valid_loss to watch
        # dropout's masks from the model's seed and the epochs so far, as in
        # the first fit (the same calls repeat; the user's state is kept)
        rng = np.random.RandomState([int(net.seed), len(net.history)])
        seed = int(rng.randint(np.iinfo(np.int32).max))
        try:
            with (
                self._seeded(seed),
                torch_threads(threads_for(work, self.n_threads)),
                flushed_denormals(),
            ):
                net.partial_fit(data, None, epochs=epochs)
        except BaseException:
            self._set_temperatures(before)  # the networks as the error left them
            raise
        finally:
            stopper.monitor = monitor
        self._record_history(stopper, len(data), warn=not chunk)
        self.net_.module_.train(False)  # fitted: in eval mode, as after fit
        columns, _, _ = as_target_columns(y)
        for model, column in zip(getattr(self, "target_networks_", []), columns):
            model._continue_fit(given[0], _one_column(column), given[1], epochs, chunk)
        return self

    def _encode_more(self, y):
        """y encoded as in the first fit; an error naming what changed."""
        _, names, _ = as_target_columns(y)
        known = list(self._encoder.names_)
        if [str(n) for n in names] != [str(n) for n in known]:
            raise ValueError(
                f"y has the target columns {names}, but the model was fitted with "
                f"{known}. Training further needs the same targets; fit a new "
                "model for others."
            )
        return self._encoder.transform(y)

    def _set_curves(self):
        """scikit-learn's MLP attributes from ``history_``: ``loss_curve_``,
        ``best_loss_`` (None with early stopping, as there), and with early
        stopping ``validation_scores_`` / ``best_validation_score_`` (the mean
        over targets of R^2 and accuracy on the held-out rows, per epoch; None
        without)."""
        history = self.history_
        self.loss_curve_ = history["train_loss"].astype(float).tolist()
        self.best_loss_ = None if self.early_stopping_ else min(self.loss_curve_)
        scores = history["valid_score"] if "valid_score" in history else None
        if scores is None or not self.early_stopping_:
            self.validation_scores_ = self.best_validation_score_ = None
        else:
            self.validation_scores_ = scores.astype(float).tolist()
            self.best_validation_score_ = max(self.validation_scores_)

    def _record_history(self, stopper, n_train, warn=True, baseline=None, label=""):
        # skorch's bookkeeping (batches, their counts, the "_best" flags that
        # its callbacks read) stays in ``net_.history``
        rows = [
            {
                k: v
                for k, v in r.items()
                if k != "batches" and not k.endswith(("_batch_count", "_best"))
            }
            for r in self.net_.history
        ]
        self.history_ = pd.DataFrame(rows).set_index("epoch")
        self.n_iter_ = len(self.history_)
        self._set_curves()
        if warn:
            for message in training_warnings(self, stopper, n_train, baseline):
                warnings.warn(
                    f"{type(self).__name__}: {label}{message}",
                    UserWarning,
                    stacklevel=3,
                )

    # -- the networks: configurations, training, history ----------------------
    def _network_configs(self, X, Y, sample_weight, head_kinds):
        """Set ``_module_config`` / ``_loss_config`` from the fitted targets and
        plan; return the numeric block's medians and spreads, and the bin
        edges of ``numeric_embedding="piecewise"`` (else None)."""
        head_sizes = [
            len(c) if k == "multiclass" else 1
            for k, c in zip(head_kinds, self.target_classes_)
        ]
        plan, encoder = self._features, self._encoder
        n_numeric = plan.n_numeric_columns
        # medians, spreads and bin edges from the same rows (a sample of large X)
        rows = statistics_rows(X.shape[0], sample_weight)
        center, scale, missing = numeric_statistics(
            X, n_numeric, sample_weight, rows=rows
        )
        edges = bin_counts = None
        if self.numeric_embedding == "piecewise" and n_numeric:
            block, weights = X[:, :n_numeric], sample_weight
            if rows is not None:
                block = block[rows]
                weights = None if weights is None else np.asarray(weights)[rows]
            raw = quantile_edges(block, self.n_bins, weights)
            edges = bin_edges(raw, center, scale, self.numeric_transform == "robust")
            bin_counts = [len(e) - 1 for e in edges]
        self._module_config = {
            "n_features": int(X.shape[1]),
            "inputs": {
                "n_numeric": n_numeric,
                "cardinalities": plan.cardinalities_,
                "missing_columns": missing,
                "numeric_transform": self.numeric_transform,
                "numeric_embedding": self.numeric_embedding,
                **({} if bin_counts is None else {"bin_counts": bin_counts}),
            },
            "n_ensemble": int(self.n_ensemble),
            "n_models": int(self.n_models),
            "head_kinds": head_kinds,
            "head_sizes": head_sizes,
            "hidden_layer_sizes": list(layer_sizes(self.hidden_layer_sizes)),
            "head_hidden_layer_sizes": list(layer_sizes(self.head_hidden_layer_sizes)),
            "activation": self.activation,
            "dropout": float(self.dropout),
            "batch_norm": bool(self.batch_norm),
        }
        weights = resolve_loss_weights(
            self.loss_weights, encoder.names_, X.shape[0], self.early_stopping_
        )
        self._loss_config = {
            "head_kinds": head_kinds,
            "loss_weights": weights if isinstance(weights, str) else list(weights),
            "class_weights": [
                None if cw is None else [float(w) for w in cw]
                for cw in resolve_class_weights(self.class_weight, encoder, Y)
            ],
            "regression_loss": self.regression_loss,
            "masked": bool(np.isnan(Y).any()),
        }
        return center, scale, edges

    def _build_module_and_loss(self, every_model=False):
        """One network of ``_module_config`` (with ``every_model``, all its
        ``n_models``) and the loss of ``_loss_config`` (fresh weights from
        torch's current random state)."""
        config = {k: v for k, v in self._module_config.items() if k != "n_models"}
        module = build_module(self._module_config if every_model else config)
        criterion = JointLoss(head_slices=module.head_slices, **self._loss_config)
        return module, criterion

    def _train_networks(self, data, seeds, head_kinds, numbers, epochs, first_chunk):
        """Fit one network per seed, packed (``_train_packed``) or one after
        the other (``_train_one``), record the history, and leave
        ``self.net_`` carrying them all (averaged, with each network's Adam
        moments) when there are several. Returns whether a network ran out
        of epochs before its loss stopped improving."""
        if self._packs(data, seeds, first_chunk):
            return self._train_packed(data, seeds, head_kinds, numbers)
        nets, reached_max_iter = [], False
        names = [str(n) for n in self._encoder.names_]
        regression = [j for j, k in enumerate(head_kinds) if k == "regression"]
        held_out = _HeldOut(len(data), len(regression))
        logits = HeldOutLogits(head_kinds, self._n_classes())
        self.continued_epochs_ = []
        for seed in seeds:
            # each network: its own initial weights and validation split
            stopper, train = self._train_one(data, seed, head_kinds, numbers, epochs)
            if self.early_stopping_:
                valid_rows, valid = self._held_out_
                if self._continues_heads(first_chunk):
                    history = [
                        (row["epoch"], [row[f"valid_loss_{n}"] for n in names])
                        for row in self.net_.history
                        if all(f"valid_loss_{n}" in row for n in names)
                    ]
                    self.continued_epochs_.append(
                        self._continue_heads(
                            self.net_.module_,
                            train,
                            valid,
                            still_learning(history, stopper.best_epoch_, self.tol),
                            head_kinds,
                            seed,
                        )
                    )
                self._add_held_out(
                    self.net_.module_, valid_rows, valid, regression, held_out, logits
                )
            nets.append(self.net_)
            baseline = None if first_chunk else stopper.baseline_
            label = f"network {len(nets)} of {len(seeds)}: " if len(seeds) > 1 else ""
            self._record_history(
                stopper, len(train), not first_chunk, baseline, label=label
            )
            reached_max_iter |= not (stopper.stopped_ or stopper.restored_epoch_)
        if len(nets) > 1:  # the last net carries them all, averaged
            self.net_.module_ = AveragedMLPs([net.module_ for net in nets])
            self.net_.initialize_optimizer()
            state = self.net_.optimizer_.state  # each network's Adam moments
            for net in nets:
                for param, moments in net.optimizer_.state.items():
                    state[param] = moments
        self.__dict__.pop("_held_out_", None)
        self._set_held_out(data, regression, held_out, logits)
        return reached_max_iter

    def _packs(self, data, seeds, first_chunk):
        """Whether the networks of this fit train packed (``pack_models``)."""
        return (
            self.pack_models
            and len(seeds) > 1
            and self.early_stopping_
            and not first_chunk
            and not self.batch_norm
            and self.n_ensemble == 1
            and isinstance(data.X, torch.Tensor)
        )

    def _add_held_out(self, network, valid_rows, valid, regression, held_out, logits):
        """One network's predictions of the rows it held out, for the
        intervals (``held_out``) and the temperatures (``logits``)."""
        if regression:
            chunk = eval_batch_size(network, valid.X.device)
            raw = eval_outputs(network, valid.X, chunk)
            starts = [network.head_slices[j].start for j in regression]
            held_out.add(valid_rows, raw[:, starts])
        if self.calibrate:
            logits.add(network, valid)

    def _set_held_out(self, data, regression, held_out, logits):
        """``temperatures_`` and ``interval_residuals_`` from the networks'
        held-out predictions (kept for ``_fit`` as ``_held_out_fit``: the
        target networks' blend recomputes the residuals)."""
        self._set_temperatures(logits.temperatures())
        self._held_out_fit = held_out
        self._set_interval_residuals(data.Y.cpu().numpy(), regression, held_out)

    def _set_interval_residuals(self, Y, regression, held_out):
        """``interval_residuals_`` from held-out predictions of the
        ``regression`` columns of the encoded targets ``Y``."""
        residuals = held_out.residuals(Y[:, regression])
        self.interval_residuals_ = [None] * self.n_outputs_
        for j, r in zip(regression, residuals):  # in the target's units
            if r is not None:
                with np.errstate(over="ignore"):
                    r = r * self._encoder.scales_[j]
                r = r[np.isfinite(r)]  # beyond float64: no width to learn from
            self.interval_residuals_[j] = r if r is not None and len(r) else None

    def _train_packed(self, data, seeds, head_kinds, numbers):
        """Fit the networks of ``seeds`` as one ``PackedMLPs`` through one
        skorch net: each network with the initial weights, validation rows
        and batch order it would have alone (``_train_one``), stopped on its
        own validation loss (``MemberStopping``). Leaves ``self.net_`` with
        the networks as ``AveragedMLPs`` and a ``StopOnPlateau`` for further
        training; returns whether a network ran out of epochs."""
        splits = [split_rows(len(data), self.validation_fraction, s) for s in seeds]
        train_rows = torch.stack([t for t, _ in splits])
        valid_rows = torch.stack([v for _, v in splits])
        n_train = train_rows.shape[1]
        batch_size = (
            auto_batch_size(n_train) if self.batch_size == "auto" else self.batch_size
        )
        networks = []
        for seed in seeds:  # each drawn as _train_one draws it
            with self._seeded(seed):
                module, criterion = self._new_network(numbers)
            networks.append(module)
        packed = PackedMLPs.pack(networks)
        first_train = data.subset(train_rows[0])
        baseline = constant_loss(first_train, networks[0], criterion, self._loss_config)
        stopper = MemberStopping(patience=self.n_iter_no_change, threshold=self.tol)
        stopper.baseline_ = baseline
        split = MemberSplit(train_rows, valid_rows)
        valid = MemberRows(data, valid_rows)
        self.net_ = self._build_net(
            packed,
            criterion,
            batch_size=batch_size,
            train_split=split,
            callbacks=self._callbacks(stopper, valid, head_kinds),
            seed=seeds[0],
            member_seeds=seeds,
        )
        work = batch_size * widest_layer(packed)
        with (
            self._seeded(seeds[0]),  # dropout's masks
            torch_threads(threads_for(work, self.n_threads)),
            flushed_denormals(),
        ):
            self.net_.fit(data, None)
        self._record_history(stopper, n_train, True, baseline)
        # the networks as a fitted model has them: averaged, each with its
        # held-out predictions
        networks = self.net_.module_.networks()
        self.continued_epochs_ = []
        if self._continues_heads(False):
            for network, seed, train, valid, history, best in zip(
                networks,
                seeds,
                train_rows,
                valid_rows,
                stopper.target_losses_,
                stopper.best_epochs_,
            ):
                self.continued_epochs_.append(
                    self._continue_heads(
                        network,
                        data.subset(train),
                        data.subset(valid),
                        still_learning(history, best, self.tol),
                        head_kinds,
                        seed,
                    )
                )
        regression = [j for j, k in enumerate(head_kinds) if k == "regression"]
        held_out = _HeldOut(len(data), len(regression))
        logits = HeldOutLogits(head_kinds, self._n_classes())
        for network, rows in zip(networks, valid_rows):
            valid = data.subset(rows)
            self._add_held_out(
                network, rows.numpy(), valid, regression, held_out, logits
            )
        self.net_.module_ = AveragedMLPs(networks)
        self.net_.initialize_optimizer()
        state = self.net_.optimizer_.state  # each network's Adam moments
        for network, moments in zip(networks, stopper.moments_):
            for name, param in network.named_parameters():
                if moments.get(name):
                    state[param] = moments[name]
        stopper.moments_ = None
        # further training (warm_start, partial_fit) stops as a network
        # trained alone does, on the validation loss of the networks together
        further = StopOnPlateau(
            monitor="valid_loss",
            patience=self.n_iter_no_change,
            threshold=self.tol,
            threshold_mode="abs",
            restore="best",
        ).initialize()
        further.baseline_ = baseline
        self.net_.callbacks_ = [
            ("stopper", further) if name == "stopper" else (name, cb)
            for name, cb in self.net_.callbacks_
        ]
        scorer = dict(self.net_.callbacks_).get("valid_score")
        if scorer is not None:  # the last network's rows, as one by one
            scorer.valid = data.subset(valid_rows[-1])
        self._set_held_out(data, regression, held_out, logits)
        return not stopper.stopped_

    def _continues_heads(self, first_chunk):
        """Whether this fit trains on the heads still learning at each
        network's stop (``continue_heads``)."""
        return (
            self.continue_heads
            and self.early_stopping_
            and not first_chunk
            and self.n_ensemble == 1
            and self.n_outputs_ > 1
        )

    def _continue_heads(self, network, train, valid, learning, head_kinds, seed):
        """``continue_heads`` for one stopped network (trained in place) on its
        own training and validation rows: the targets ``learning`` trained
        on, the other heads held (``heads.HeldHeadsLoss``), through a skorch
        net with the fit's own callbacks (not the user's); the best epoch
        kept if its total validation loss beats the stop's by ``tol``.
        Returns the epoch kept (0: the stop's weights)."""
        if not learning:
            return 0
        criterion = HeldHeadsLoss(self.net_.criterion_, learning, network.head_slices)
        chunk = eval_batch_size(network, train.X.device)
        outputs = {}
        for part, rows in (("train", train), ("valid", valid)):
            held = eval_outputs(network, rows.X, chunk)
            outputs[part] = torch.as_tensor(held, device=rows.Y.device)
        with torch.no_grad():
            losses, _ = criterion.kind_losses(outputs["valid"], valid.Y)
            at_stop = float(criterion.watched(losses))
        kept = copy.deepcopy(network.state_dict())
        train = TensorData(
            train.X, with_outputs(train.Y, outputs["train"]), train.sample_weight
        )
        valid = TensorData(
            valid.X, with_outputs(valid.Y, outputs["valid"]), valid.sample_weight
        )
        stopper = StopOnPlateau(
            monitor="valid_loss",
            patience=max(1, self.n_iter_no_change // 2),
            threshold=self.tol,
            threshold_mode="abs",
            restore="best",
        )
        batch_size = (
            auto_batch_size(len(train))
            if self.batch_size == "auto"
            else self.batch_size
        )
        net = self._build_net(
            network,
            criterion,
            batch_size=batch_size,
            train_split=PredefinedSplit(valid),
            callbacks=[  # the user's keep what they saw of the fit
                (name, callback)
                for name, callback in self._callbacks(stopper, None, head_kinds)
                if not name.startswith("user_")
            ],
            seed=seed,
        )
        work = batch_size * widest_layer(network)
        with (
            self._seeded(seed),  # dropout's masks
            torch_threads(threads_for(work, self.n_threads)),
            flushed_denormals(),
        ):
            net.fit(train, None)
        if net.module_ is not network:  # skorch trains the instance it is given
            network.load_state_dict(net.module_.state_dict())
        best = stopper.best_epoch_  # its weights are the module's now
        if not net.history[best - 1, "valid_loss"] < at_stop - self.tol:
            network.load_state_dict(kept)
            best = 0
        network.train(False)
        return int(best)

    # -- each target's own networks (target_networks) ---------------------------
    def _fits_target_networks(self, n_rows, first_chunk):
        """Whether this fit adds each target's own networks."""
        if first_chunk or self.n_outputs_ < 2:
            return False
        if self.target_networks == "auto":
            return (
                n_rows < AUTO_TARGET_NETWORKS_ROWS
                and self.n_outputs_ <= AUTO_TARGET_NETWORKS_TARGETS
            )
        return bool(self.target_networks)

    def _target_network_params(self, j):
        """The parameters of target ``j``'s own model: this model's, for that
        target alone (its class weights; no loss weights, with no other
        target to weigh it against), silent and without user callbacks."""
        params = self.get_params(deep=False)
        entry = class_weight_entries(self.class_weight, self._encoder)[j]
        params.update(
            target_types=[self.target_types_[j]],
            class_weight=None if entry is None else [entry],
            loss_weights=None,
            target_networks=False,
            callbacks=None,
            verbose=0,
            warm_start=False,
        )
        return params

    def _fit_target_networks(self, X, y, sample_weight, seeds, Y, held_out):
        """Fit ``target_networks_`` on the data as the user gave it, with the
        joint networks' seeds (so the same validation rows), and set the
        intervals' residuals of the averaged predictions."""
        columns, _, _ = as_target_columns(y)
        models = []
        for j, column in enumerate(columns):
            model = type(self)(**self._target_network_params(j))
            model._fit(X, _one_column(column), sample_weight, seeds=seeds, alone=True)
            theirs, mine = model.target_classes_[0], self.target_classes_[j]
            if (theirs is None) != (mine is None) or (
                mine is not None and not np.array_equal(theirs, mine)
            ):  # the same rows and labels: never expected
                raise RuntimeError(
                    f"The model of target {self._encoder.names_[j]!r} alone found "
                    f"the classes {theirs!r}, the joint model {mine!r}. Fit with "
                    "target_networks=False, and report this as a bug."
                )
            models.append(model)
        self.target_networks_ = models
        theirs = [m.__dict__.pop("_held_out_fit", None) for m in models]
        if held_out is None:
            return
        # the held-out rows are the joint networks' (the same seeds): each
        # row's held-out prediction is the average of the two models'
        regression = [j for j, k in enumerate(self._head_kinds()) if k == "regression"]
        blended = _HeldOut(len(Y), len(regression))
        blended.counts = (held_out.counts > 0).astype(float)
        means = held_out.means()
        for r, j in enumerate(regression):
            mine = means[:, r]
            if theirs[j] is None or not np.array_equal(
                theirs[j].counts > 0, held_out.counts > 0
            ):
                blended.counts[:] = 0  # no common held-out rows: no intervals
                continue
            other = self._in_my_units(j, theirs[j].means()[:, 0])
            blended.sums[:, r] = np.nan_to_num((mine + other) / 2)
        self._set_interval_residuals(Y, regression, blended)

    def _in_my_units(self, j, z):
        """Target ``j``'s standardised numbers ``z`` from its own model, in
        this model's standardisation of that target."""
        model = self.target_networks_[j]
        value = z * model._encoder.scales_[0] + model._encoder.means_[0]
        return (value - self._encoder.means_[j]) / self._encoder.scales_[j]

    def _with_target_networks(self, raw, own):
        """The joint networks' outputs ``raw`` averaged with each target's
        own model's (``own``, one array per target): the mean of the numbers,
        the logits of the mean of the class probabilities."""
        theirs = raw.copy()
        kinds = self._head_kinds()
        slices = self.net_.module_.head_slices
        for j, (sl, out) in enumerate(zip(slices, own)):
            if kinds[j] == "regression":
                theirs[:, sl] = self._in_my_units(j, out[:, 0])[:, None]
            else:
                theirs[:, sl] = out
        pair = torch.from_numpy(np.stack([raw, theirs], axis=1))
        heads = SimpleNamespace(head_kinds=kinds, head_slices=slices)
        return average_members(pair, heads).numpy()

    def _new_network(self, numbers):
        """A network and its loss, fresh weights from torch's state (seed it
        with ``_seeded``); ``numbers``: what ``_network_configs`` returned."""
        center, scale, edges = numbers
        module, criterion = self._build_module_and_loss()
        module.inputs.set_numeric_scaling(center, scale)
        if edges is not None:
            module.inputs.set_numeric_bins(edges)
        return module, criterion

    @contextlib.contextmanager
    def _seeded(self, seed):
        """Torch's random state seeded by ``seed`` inside, the user's back
        after. Only the generators this fit uses are seeded
        (``torch.manual_seed`` also queues every accelerator backend's
        seeding, ~0.1 ms a fit)."""
        with torch.random.fork_rng(devices=self._cuda_devices()):
            torch.default_generator.manual_seed(seed)
            for index in self._cuda_devices():
                with torch.cuda.device(index):
                    torch.cuda.manual_seed(seed)
            yield

    def _callbacks(self, stopper, valid, head_kinds):
        """The fit's callbacks, in their order: the validation score, held-out
        loss weights and the adaptive schedule (with ``valid``, the held-out
        rows, or None), ``stopper``, progress and log, the user's."""
        callbacks = []
        if valid is not None:  # scored before the stopper may end the last epoch
            scorer = ValidationScore(valid, head_kinds, self._n_classes())
            callbacks.append(("valid_score", scorer))
        if valid is not None and self._loss_config["loss_weights"] == "held_out":
            callbacks.append(("loss_weights", HeldOutWeights()))
        if self.learning_rate == "adaptive":
            schedule = adaptive_schedule(self.n_iter_no_change, self.tol)
            callbacks.append(("lr_scheduler", schedule))
        callbacks.append(("stopper", stopper))
        if self.verbose >= 2:  # a bar over the batches of long epochs
            callbacks.append(("progress_bar", ProgressBar()))
        if self.verbose:
            callbacks.append(("print_log", PrintLog()))
        return callbacks + named_callbacks(self.callbacks)

    def _set_temperatures(self, temperatures):
        """``temperatures_`` (one per target), set on each network."""
        module = self.net_.module_
        networks = module.members if isinstance(module, AveragedMLPs) else [module]
        for network in networks:
            network.set_temperatures(temperatures)
        self.temperatures_ = np.asarray(temperatures, dtype=np.float64)

    def _train_one(self, data, seed, head_kinds, numbers, epochs):
        """Fit one network of the model on ``data`` (``self.net_``), seeded by
        ``seed`` (initial weights, validation split, batch order); ``numbers``:
        what ``_network_configs`` returned. Returns its stopper (with
        ``baseline_``: a constant prediction's training loss, or None) and the
        rows it trained on."""
        train_split = False
        if self.early_stopping_:
            train_rows, valid_rows = split_rows(
                len(data), self.validation_fraction, seed
            )
            data, valid = data.subset(train_rows), data.subset(valid_rows)
            train_split = PredefinedSplit(valid)
            self._held_out_ = (valid_rows.numpy(), valid)
        batch_size = (
            auto_batch_size(len(data)) if self.batch_size == "auto" else self.batch_size
        )
        with self._seeded(seed):  # initial weights, then dropout's masks
            module, criterion = self._new_network(numbers)
            baseline = constant_loss(data, module, criterion, self._loss_config)
            stopper = StopOnPlateau(
                monitor="valid_loss" if self.early_stopping_ else "train_loss",
                patience=self.n_iter_no_change,
                threshold=self.tol,
                threshold_mode="abs",
                restore="best" if self.early_stopping_ else "diverged",
                # a rise smaller than 1% of a constant prediction's loss is
                # noise around a loss near zero, not a divergence
                divergence_floor=0.0 if baseline is None else 0.01 * baseline,
            )
            stopper.baseline_ = baseline  # for the fit's warnings
            valid = train_split.valid if train_split else None
            callbacks = self._callbacks(stopper, valid, head_kinds)
            self.net_ = self._build_net(
                module,
                criterion,
                batch_size=batch_size,
                train_split=train_split,
                callbacks=callbacks,
                seed=seed,
                max_epochs=epochs,
            )
            work = batch_size * widest_layer(module)
            with torch_threads(threads_for(work, self.n_threads)), flushed_denormals():
                self.net_.fit(data, None)
        return stopper, data

    def _build_net(
        self,
        module,
        criterion,
        *,
        batch_size,
        train_split,
        callbacks,
        seed,
        max_epochs=None,
        member_seeds=None,
    ):
        return JointNet(
            module=module,
            criterion=criterion,
            optimizer=torch.optim.Adam,
            optimizer__fused=self.device_ == "cpu" or self.device_.startswith("cuda"),
            lr=self.learning_rate_init,
            alpha=self.alpha,
            max_epochs=max_epochs or self.max_iter,
            batch_size=batch_size,
            train_split=train_split,
            callbacks=callbacks,
            device=self.device_,
            verbose=self.verbose,
            target_names=[str(n) for n in self._encoder.names_],
            seed=seed,
            member_seeds=member_seeds,
        )

    def _cuda_devices(self):
        if self.device_.startswith("cuda"):
            return [torch.device(self.device_).index or 0]
        return []

    def _split(self, data, seed):
        """``(train, valid)``: early stopping's split of ``data``."""
        train, valid = split_rows(len(data), self.validation_fraction, seed)
        return data.subset(train), data.subset(valid)

    # -- X as the network takes it ---------------------------------------------
    def _validate_fit_data(
        self, X, y, sample_weight, sample_weight_dtype=None, reset=True, planned=True
    ):
        """X (the plan's matrix; with ``planned=False``, checked only) and the
        checked sample weights."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        X = self._checked_frame_or_array(X, reset)
        check_consistent_length(X, y)
        if sample_weight is not None:
            sample_weight = check_sample_weight(
                sample_weight, X.shape[0], dtype=sample_weight_dtype
            )
        if not planned:
            return X, sample_weight
        return self._planned(X, reset, sample_weight), sample_weight

    def _validate_X(self, X):
        check_is_fitted(self)
        return self._planned(self._checked_frame_or_array(X, reset=False), False)

    def _planned(self, X, reset, sample_weight=None, Y=None, seed=0):
        """The plan's matrix of a checked X (a DataFrame when the plan is
        needed), fitting the plan first when ``reset`` (with the encoded
        targets ``Y``, its target encoding too; ``seed``: its folds)."""
        if isinstance(X, pd.DataFrame):
            if reset:
                plan = FeaturePlan(
                    self.categorical_features,
                    self.target_encoding,
                    self.discrete_numeric,
                )
                self._features = plan
                return plan.fit_transform(
                    X,
                    sample_weight,
                    Y,
                    self._n_classes() if Y is not None else (),
                    seed,
                )
            matrix = self._features.transform(X)
            for message in self._features.unseen_warnings(matrix, list(X.columns)):
                # stacklevel: the user's predict -> _raw_chunks -> _validate_X
                warnings.warn(
                    f"{type(self).__name__}: {message}", UserWarning, stacklevel=5
                )
            return matrix
        if reset:
            self._features = FeaturePlan.numeric_only(X.shape[1])
        return X

    def _checked_frame_or_array(self, X, reset):
        """X with scikit-learn's checks: a float32 array (or sparse matrix)
        when numbers are all it holds, else a DataFrame for the plan."""
        spec = self.categorical_features
        use_plan = needs_plan(X, spec) if reset else not self._features.is_identity
        if not use_plan:
            X = validate_data(
                self,
                X,
                dtype=np.float32,
                accept_sparse="csr",
                ensure_all_finite="allow-nan",
                reset=reset,
            )
            if (
                reset
                and self.discrete_numeric == "auto"
                and not hasattr(X, "tocsr")
                and has_discrete_columns(X)
            ):
                return pd.DataFrame(X)  # the plan adds the columns' codes
            return X
        if hasattr(X, "tocsr") and not reset and not len(self._features.categorical_):
            raise ValueError(
                "This model was fitted on a dense X whose discrete numeric columns "
                "it also codes as categories (discrete_numeric='auto'), so it "
                "needs a dense X; got a sparse matrix. Pass X.toarray(), or fit "
                "with discrete_numeric=None to predict from sparse matrices."
            )
        if hasattr(X, "tocsr"):
            raise ValueError(
                "categorical_features needs a dense X (a DataFrame or an array); "
                "got a sparse matrix. Encode the categories into the sparse matrix "
                "and set categorical_features=None, or pass a DataFrame."
            )
        if not isinstance(X, pd.DataFrame):
            return pd.DataFrame(
                validate_data(self, X, dtype=None, ensure_all_finite=False, reset=reset)
            )
        else:
            validate_data(self, X, skip_check_array=True, reset=reset)
            if X.shape[0] == 0:
                raise ValueError(
                    f"Found array with 0 sample(s) (shape={X.shape}) while a "
                    "minimum of 1 is required."
                )
            if X.shape[1] == 0:
                raise ValueError(
                    f"Found array with 0 feature(s) (shape={X.shape}) while a "
                    "minimum of 1 is required."
                )
        return X

    # -- predictions -----------------------------------------------------------
    def _raw(self, X):
        """Network outputs for X, and X's index when it is a DataFrame."""
        chunks, index, _ = self._raw_chunks(X)
        parts = [raw for _, raw in chunks]
        return (parts[0] if len(parts) == 1 else np.concatenate(parts)), index

    def _raw_chunks(self, X):
        """``(chunks, index, n)``: the network outputs for X as ``(rows, raw)``
        pairs of at most ``PREDICT_FLOATS`` outputs each (one chunk unless
        targets have thousands of classes), X's index when it is a
        DataFrame, and its number of rows. X is checked first, once."""
        X_df = X
        X = self._validate_X(X)
        index = X_df.index if isinstance(X_df, pd.DataFrame) else None
        module = self.net_.module_
        own = [m._raw(X_df)[0] for m in getattr(self, "target_networks_", [])]
        n = X.shape[0]
        step = max(1, PREDICT_FLOATS // max(1, sum(module.head_sizes)))
        work = n * widest_layer(module)
        threads = threads_for(work, self.n_threads, PREDICT_PARALLEL_WORK)

        def chunks():
            for start in range(0, max(n, 1), step):
                rows = slice(start, min(start + step, n))
                x = as_tensor(X[rows] if step < n else X, self.device_)
                with torch_threads(threads):
                    raw = self.net_.predict_raw(x, float64=True)
                if own:
                    raw = self._with_target_networks(raw, [o[rows] for o in own])
                yield rows, raw

        return chunks(), index, n

    def predict(self, X):
        """Predict every target, in its original labels and units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray or DataFrame of shape (n_samples, n_targets)
            A DataFrame with the fitted columns and dtypes when y was one; a
            1-D array when y was 1-D; else an array (object dtype when the
            targets' types differ).
        """
        chunks, index, _ = self._raw_chunks(X)
        parts = [self._decisions(raw) for _, raw in chunks]
        columns = [
            parts[0][j] if len(parts) == 1 else np.concatenate([p[j] for p in parts])
            for j in range(len(parts[0]))
        ]
        return self._encoder.decode(columns, index=index)

    def _decisions(self, raw):
        """Per target: a standardised number or a class code per row."""
        return head_decisions(
            raw, self.net_.module_.head_slices, self._head_kinds(), self._n_classes()
        )

    @available_if(has_classification_target)
    def predict_proba(self, X):
        """Class probabilities of every classification target.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : list of ndarray of shape (n_samples, n_classes_j)
            One array per classification target, in target order, columns in
            ``classes_[j]`` order. When y was 1-D (one target), the array
            itself, as scikit-learn's forests do.
        """
        chunks, _, n = self._raw_chunks(X)
        out = None
        for rows, raw in chunks:
            parts = self._probabilities(raw)
            if rows.start == 0 and rows.stop == n:  # one chunk: no copy
                out = parts
                continue
            if out is None:
                out = [np.empty((n, p.shape[1])) for p in parts]
            for whole, part in zip(out, parts):
                whole[rows] = part
        return out[0] if self._encoder.kind_ == "1d" else out

    def _probabilities(self, raw):
        """Per classification target: float64 probabilities from the logits."""
        out = []
        for j, (sl, kind) in enumerate(self._heads()):
            logits = torch.from_numpy(
                np.ascontiguousarray(raw[:, sl], dtype=np.float64)
            )
            if kind == "binary":
                p = torch.sigmoid(logits[:, 0]).numpy()
                if len(self.target_classes_[j]) == 2:
                    out.append(np.column_stack([1.0 - p, p]))
                else:
                    out.append(np.ones((len(p), 1)))
            elif kind == "multiclass":
                out.append(torch.softmax(logits, dim=1).numpy())
        return out

    @available_if(is_single_classifier)
    def decision_function(self, X):
        """The network's logits (one classification target only).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes, the logit of the second class, as scikit-learn's
            binary classifiers give; else one logit per class.
        """
        raw, _ = self._raw(X)
        ((sl, kind),) = self._heads()
        if kind == "binary":
            if len(self.target_classes_[0]) < 2:  # one class seen in fit
                return np.zeros(len(raw))
            return raw[:, sl.start].astype(np.float64)
        return raw[:, sl].astype(np.float64)

    def _head_kinds(self):
        """Per target, its head: "regression", "binary" or "multiclass"."""
        return [
            head_kind(t, c) for t, c in zip(self.target_types_, self.target_classes_)
        ]

    def _n_classes(self):
        return [0 if c is None else len(c) for c in self.target_classes_]

    def _heads(self):
        return list(zip(self.net_.module_.head_slices, self._head_kinds()))

    def summary(self):
        """A text table of the fitted network, like Keras' ``model.summary()``.

        One line per layer (name, type, output shape, parameters), then one line
        per head (the output columns it owns, its kind and what ``predict``
        returns for it), then the parameter counts; and, with
        ``target_networks_``, a line on the models of one target averaged
        with it.

        Returns
        -------
        text : str
            Print it: ``print(est.summary())``.
        """
        check_is_fitted(self)
        text = network_summary(self)
        own = getattr(self, "target_networks_", [])
        if own:
            n = sum(p.numel() for model in own for p in model.net_.module_.parameters())
            text += (
                f"\neach target's own model (target_networks_): {len(own)} models "
                f"of one target, {n:,} parameters; each target's predictions "
                "average its own model's and the joint networks'"
            )
        return text

    # -- safe files -------------------------------------------------------------
    def save(self, path):
        """Write the fitted model to ``path`` in a format that never unpickles.

        The file is a safetensors file: the network's tensors, and in its header
        a JSON document with the parameters, the target types, the classes with
        their original label types, the regression scales, the feature names,
        the history and a format version, all under a SHA-256 digest. Read it
        back with ``JointRegressorClassifier.load(path)``. (Pickle and joblib
        work too, as for any scikit-learn estimator, but only load those from
        sources you trust: unpickling can run code.)

        Parameters
        ----------
        path : str or os.PathLike
            Where to write (by convention ending in ``.safetensors``).

        Returns
        -------
        path : str or os.PathLike
            ``path``, for chaining.
        """
        return self._save(path)

    @classmethod
    def load(cls, path, device=None):
        """Read a model written by ``save``; runs no code from the file.

        Parameters
        ----------
        path : str or os.PathLike
            A file written by ``JointRegressorClassifier.save``.
        device : str, default=None
            Where to put the network: None for the device it was fitted on when
            that one is available here, else the CPU (so a model fitted on a GPU
            loads on a machine without one); or "cpu", "cuda", "auto".

        Returns
        -------
        estimator : JointRegressorClassifier
            Fitted, with the same predictions, labels and dtypes as the saved one.

        Raises
        ------
        ValueError
            (a ``ModelFileError``) when the file is not a sklearn-multihead model
            file (e.g. a pickle), holds another estimator, comes from a newer
            format version, or was changed or truncated after it was written.
        """
        return cls._load(path, device=device)

    def _file_state(self):
        history = {
            "columns": list(self.history_.columns),
            "index": self.history_.index.tolist(),
            "data": self.history_.to_numpy(dtype=np.float64).tolist(),
        }
        extra = {
            "training": {
                "device_": self.device_,
                "n_iter_": self.n_iter_,
                "early_stopping_": self.early_stopping_,
                "history": history,
            },
            "module": self._module_config,
            "loss": self._loss_config,
            "feature_plan": self._features.get_state(),
        }
        tensors = {
            f"{part}.{name}": t
            for part, obj in [
                ("module", self.net_.module_),
                ("criterion", self.net_.criterion_),
            ]
            for name, t in obj.state_dict().items()
        }
        arrays = {k: t.detach().cpu().numpy() for k, t in tensors.items()}
        arrays.update(residual_arrays(getattr(self, "interval_residuals_", None)))
        arrays["calibration.temperatures"] = self.temperatures_
        arrays.update(self._features.get_arrays())
        extra["target_networks"] = []
        for i, model in enumerate(getattr(self, "target_networks_", [])):
            their_extra, their_arrays = model._file_state()
            extra["target_networks"].append(
                {
                    "params": model._saved_params(),
                    "targets": model._encoder.get_state(),
                    **their_extra,
                }
            )
            prefix = f"{TARGET_NETWORKS_PREFIX}{i}."
            arrays.update({prefix + k: a for k, a in their_arrays.items()})
        return extra, arrays

    def _restore_file_state(self, parts, tensors, device=None):
        nested = {
            k: tensors.pop(k)
            for k in list(tensors)
            if k.startswith(TARGET_NETWORKS_PREFIX)
        }
        training = parts["training"]
        hist = training["history"]
        self.history_ = pd.DataFrame(
            hist["data"],
            columns=hist["columns"],
            index=pd.Index(hist["index"], name="epoch"),
        )
        self.n_iter_ = int(training["n_iter_"])
        self.early_stopping_ = bool(training["early_stopping_"])
        self._set_curves()
        self._module_config, self._loss_config = parts["module"], parts["loss"]
        self.n_models = self._module_config["n_models"]
        encodings = {
            k: tensors.pop(k) for k in list(tensors) if k.startswith(ENCODING_PREFIX)
        }
        self._features = FeaturePlan.from_state(
            parts["feature_plan"], self.n_features_in_, encodings
        )
        # every size and index of the file is checked against the targets and
        # the plan before anything is allocated
        check_network_file(
            self._module_config,
            self._loss_config,
            tensors,
            target_types=self.target_types_,
            target_classes=self.target_classes_,
            n_features=self._features.width,
            plan=self._features,
        )
        if device is None:
            saved = training["device_"]
            device = saved if saved == "cpu" or torch.cuda.is_available() else "cpu"
        self.device_ = resolve_device(device)
        intervals = {
            k: tensors.pop(k) for k in list(tensors) if k.startswith("intervals.")
        }
        self.interval_residuals_ = interval_residuals(intervals, self.target_types_)
        temperatures = checked_temperatures(
            tensors.pop("calibration.temperatures", None), self._head_kinds()
        )
        module, criterion = self._build_module_and_loss(every_model=True)
        load_network_tensors(module, criterion, tensors)
        self.net_ = self._build_net(
            module, criterion, batch_size=1, train_split=False, callbacks=[], seed=0
        )
        self.net_.initialize()
        # in eval mode, as a fitted network is (predict uses it as it is)
        self.net_.module_.train(False)
        self._set_temperatures(temperatures)
        self.target_networks_ = self._restored_target_networks(
            parts.get("target_networks", []), nested, device
        )

    def _restored_target_networks(self, parts, tensors, device):
        """``target_networks_`` from a file: each checked to be a model of its
        target alone, with no target networks of its own."""
        if not isinstance(parts, list) or (
            parts and (len(parts) != self.n_outputs_ or self.n_outputs_ < 2)
        ):
            raise ValueError("the target networks do not match the targets")
        models = []
        for i, part in enumerate(parts):
            part = dict(part)
            prefix = f"{TARGET_NETWORKS_PREFIX}{i}."
            own = {
                k[len(prefix) :]: tensors.pop(k)
                for k in list(tensors)
                if k.startswith(prefix)
            }
            model = type(self)(**part.pop("params"))
            check_params(model)
            model._encoder = TargetEncoder.from_state(
                part.pop("targets"), model.target_types
            )
            model._set_target_attributes(model._encoder)
            theirs, mine = model.target_classes_[0], self.target_classes_[i]
            if (
                model.n_outputs_ != 1
                or part.get("target_networks")
                or model.target_types_[0] != self.target_types_[i]
                or (theirs is None) != (mine is None)
                or (mine is not None and not np.array_equal(theirs, mine))
            ):
                raise ValueError(f"target network {i} does not match target {i}")
            model.n_features_in_ = self.n_features_in_
            if hasattr(self, "feature_names_in_"):
                model.feature_names_in_ = self.feature_names_in_
            model._restore_file_state(part, own, device=device)
            models.append(model)
        if tensors:
            raise ValueError(f"unexpected tensors {sorted(tensors)[:3]}")
        return models


class _HeldOut:
    """The held-out predictions of the networks of one fit: per row, the sum
    of the regression outputs of the networks that did not train on it, and
    their count; then the absolute residuals of the rows held out at least
    once (the "out-of-bag" average, as a forest's)."""

    def __init__(self, n_rows, n_targets):
        self.sums = np.zeros((n_rows, n_targets))
        self.counts = np.zeros(n_rows)

    def add(self, rows, outputs):
        self.sums[rows] += outputs
        self.counts[rows] += 1

    def means(self):
        """Per row, the mean held-out prediction of each column (NaN for the
        rows no network held out)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sums / self.counts[:, None]

    def residuals(self, Y):
        """Per column of the standardised targets ``Y``, the sorted absolute
        residuals of its known cells that were held out (None without any)."""
        out = []
        held = self.counts > 0
        for r in range(self.sums.shape[1]):
            known = held & ~np.isnan(Y[:, r])
            if not known.any():
                out.append(None)
                continue
            predicted = self.sums[known, r] / self.counts[known]
            out.append(np.sort(np.abs(Y[known, r] - predicted)))
        return out


def _one_column(column):
    """One target column (from ``as_target_columns``) as a one-target y."""
    if isinstance(column, pd.Series):
        return column.to_frame()
    return np.asarray(column).reshape(-1, 1)

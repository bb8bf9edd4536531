"""The joint network's part of a model file: checked before it is built
(torch, numpy).

``JointRegressorClassifier.save`` puts the module and loss configurations
(plain data) in the file's JSON document and their tensors in its
safetensors body (``_persist`` guarantees that they come back as they went
in). A file can be forged, so ``load`` calls ``check_network_file`` first:
every size and index the document states is checked against the targets, the
feature plan and the file's tensors, on torch's "meta" device (no memory),
before the network is built; then ``load_network_tensors`` fills it.
"""

import numpy as np
import torch

from sklearn_multihead._joint.calibration import TEMPERATURE_RANGE
from sklearn_multihead._joint.module import MAX_BINS, build_module
from sklearn_multihead._joint.training import head_kind

#: the most networks (``n_models``) and ensemble members a file may describe
MAX_MEMBERS = 1024


def _small_int(value, what, low=0, high=None):
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or value < low
        or (high is not None and value > high)
    ):
        raise ValueError(f"the network's {what} is not an integer in range")
    return value


def check_network_file(
    module_config,
    loss_config,
    tensors,
    *,
    target_types,
    target_classes,
    n_features,
    plan,
):
    """Raise ValueError unless the configurations describe exactly the
    file's tensors, for these targets and this feature plan."""
    kinds = [head_kind(t, c) for t, c in zip(target_types, target_classes)]
    if kinds != list(module_config["head_kinds"]) or kinds != list(
        loss_config["head_kinds"]
    ):
        raise ValueError("the network's heads do not match the targets")
    sizes = [len(c) if k == "multiclass" else 1 for k, c in zip(kinds, target_classes)]
    if list(module_config["head_sizes"]) != sizes:
        raise ValueError("the network's head sizes do not match the targets' classes")
    class_weights = loss_config["class_weights"]
    if len(class_weights) != len(kinds) or any(
        cw is not None and (k == "regression" or len(cw) != max(size, 2))
        for cw, k, size in zip(class_weights, kinds, sizes)
    ):
        raise ValueError("the loss's class weights do not match the targets")
    for e in plan.encodings_:
        t = e["target"]
        if (
            t >= len(kinds)
            or kinds[t] == "regression"
            or len(e["table"]) != (1 if kinds[t] == "binary" else sizes[t])
        ):
            raise ValueError("a target encoding does not match its target's classes")
    if module_config["n_features"] != n_features:
        raise ValueError("the network does not match the features")
    inputs = module_config["inputs"]
    n_numeric = plan.n_numeric_columns
    if (
        _small_int(inputs["n_numeric"], "numeric count") != n_numeric
        or list(inputs["cardinalities"]) != plan.cardinalities_
    ):
        raise ValueError("the network's input layer does not match the features")
    missing = inputs["missing_columns"]
    if (
        not isinstance(missing, list)
        or missing != sorted(set(missing))
        or any(_small_int(c, "missing column", 0, n_numeric - 1) != c for c in missing)
    ):
        raise ValueError("the network's missing columns are not numeric columns")
    _small_int(module_config["n_ensemble"], "n_ensemble", 1, MAX_MEMBERS)
    # what is built outside "meta" must be sized by the file's tensors
    # first: the networks of n_models, and the piecewise embeddings (built
    # on the CPU: their edges cannot be checked on "meta")
    n_models = _small_int(module_config["n_models"], "n_models", 1, MAX_MEMBERS)
    prefixes = ["module."]
    if n_models != 1:
        found = {k.split(".")[2] for k in tensors if k.startswith("module.members.")}
        if found != {str(b) for b in range(n_models)}:
            raise ValueError("the network's n_models does not match its tensors")
        prefixes = [f"module.members.{b}." for b in range(n_models)]
    counts = inputs.get("bin_counts")
    if counts is not None:
        if not isinstance(counts, list) or not all(
            isinstance(c, int) and not isinstance(c, bool) and 0 < c <= MAX_BINS + 1
            for c in counts
        ):
            raise ValueError("the network's bin counts are not small positive integers")
        if len(counts) != n_numeric:
            raise ValueError("the network's bin counts do not match the file's tensors")
        for prefix in prefixes:
            found = tensors.get(prefix + "inputs.piecewise.impl.weight")
            if found is None or tuple(np.shape(found)) != (len(counts), max(counts)):
                raise ValueError(
                    "the network's bin counts do not match the file's tensors"
                )
    # the shapes the document describes, built on torch's "meta" device
    # (no memory), must be the file's tensors before anything is allocated:
    # a forged hidden_layer_sizes of [30000, 30000] cost 3.8 GB to refuse
    with torch.device("meta"):
        meta = build_module(module_config)

    def shape(t):  # scalars (batch norm's counter) are stored as (1,)
        return tuple(np.shape(t)) or (1,)

    shapes = {f"module.{k}": shape(t) for k, t in meta.state_dict().items()}
    found = {k: shape(v) for k, v in tensors.items() if k.startswith("module.")}
    if shapes != found:
        raise ValueError(
            "the network the file describes does not have the file's tensors"
        )


def load_network_tensors(module, criterion, tensors):
    """Fill ``module`` and ``criterion`` with the file's tensors (strictly:
    a missing or extra tensor is a ValueError). The index buffers that the
    configuration determines (the embedding offsets, the missing-value
    columns) must be the ones the network built from it holds: a forged
    index would make ``predict`` index out of range. Every float must be
    finite."""
    expected = 0
    for part, obj in [("module", module), ("criterion", criterion)]:
        prefix = part + "."
        state = {
            k[len(prefix) :]: torch.from_numpy(np.array(v))
            for k, v in tensors.items()
            if k.startswith(prefix)
        }
        built = obj.state_dict()
        for name, value in state.items():
            mine = built.get(name)
            if mine is None:
                continue  # load_state_dict names it
            if value.is_floating_point() and not torch.isfinite(value).all():
                raise ValueError(f"the file's tensor {prefix + name} is not finite")
            if not mine.is_floating_point() and name.endswith(
                ("offsets", "missing_columns")
            ):
                if mine.shape != value.shape or not torch.equal(mine, value):
                    raise ValueError(
                        f"the file's {prefix + name} do not match the network's "
                        "configuration"
                    )
        obj.load_state_dict(state, strict=True)
        expected += len(state)
    if expected != len(tensors):
        raise ValueError("the file holds tensors that the network does not have")


def checked_temperatures(values, head_kinds):
    """A model file's ``calibration.temperatures`` (one per target), checked:
    finite, within the range a fit searches, and 1 for every regression
    head. A file without them (saved before calibration existed): all
    ones."""
    if values is None:
        return np.ones(len(head_kinds))
    values = np.asarray(values)
    low, high = TEMPERATURE_RANGE
    regression = [j for j, k in enumerate(head_kinds) if k == "regression"]
    if (
        values.shape != (len(head_kinds),)
        or values.dtype != np.float64
        or not np.isfinite(values).all()
        or (values < low).any()
        or (values > high).any()
        or (values[regression] != 1.0).any()
    ):
        raise ValueError("the file's calibration temperatures do not fit the network")
    return values

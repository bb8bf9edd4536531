"""Safe files of the joint network: what ``save`` writes and ``load`` reads
beyond what both estimators share (``_base``).

Inside:

- ``NetworkFileMixin`` (for ``JointRegressorClassifier``): ``save`` /
  ``load``, and the network's part of the file: its history, module and
  loss configurations in the JSON document, its tensors in the safetensors
  body (``_file_state``), rebuilt and checked against the targets and
  features on load (``_restore_file_state``; the shapes are checked on
  torch's "meta" device before any memory is allocated), on the CPU when the
  saved device is not there.
"""

import numpy as np
import pandas as pd
import torch

from sklearn_multihead._features import FeaturePlan
from sklearn_multihead._module import build_module
from sklearn_multihead._net import resolve_device


class NetworkFileMixin:
    """``save`` / ``load`` of the joint network."""

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
        return extra, {k: t.detach().cpu().numpy() for k, t in tensors.items()}

    def _restore_file_state(self, parts, tensors, device=None):
        training = parts["training"]
        hist = training["history"]
        self.history_ = pd.DataFrame(
            hist["data"],
            columns=hist["columns"],
            index=pd.Index(hist["index"], name="epoch"),
        )
        self.n_iter_ = int(training["n_iter_"])
        self.early_stopping_ = bool(
            training.get("early_stopping_", self.early_stopping is True)
        )
        self._set_curves()
        self._module_config, self._loss_config = parts["module"], parts["loss"]
        # a file from before n_models holds one network, whatever today's default
        self.n_models = self._module_config.get("n_models", 1)
        kinds = [
            self._head_kind(t, c)
            for t, c in zip(self.target_types_, self.target_classes_)
        ]
        if kinds != list(self._loss_config["head_kinds"]) or (
            self._module_config["n_features"] != self.n_features_in_
        ):
            raise ValueError("the network does not match the targets or the features")
        inputs = self._module_config.get("inputs")
        if "feature_plan" not in parts and inputs is None:  # a file of 0.x: numbers
            self._features = FeaturePlan.numeric_only(self.n_features_in_)
        else:
            self._features = FeaturePlan.from_state(
                parts["feature_plan"], self.n_features_in_
            )
        if inputs is not None and (
            int(inputs["n_numeric"]) != len(self._features.numeric_)
            or list(inputs["cardinalities"]) != self._features.cardinalities_
        ):
            raise ValueError("the network's input layer does not match the features")
        if device is None:
            saved = training["device_"]
            device = saved if saved == "cpu" or torch.cuda.is_available() else "cpu"
        self.device_ = resolve_device(device)
        # what is built outside "meta" must be sized by the file's tensors
        # first: the networks of n_models, and the piecewise embeddings (built
        # on the CPU: their edges cannot be checked on "meta")
        n_models = self._module_config.get("n_models", 1)
        prefixes = ["module."]
        if n_models != 1:
            found = {
                k.split(".")[2] for k in tensors if k.startswith("module.members.")
            }
            if not isinstance(n_models, int) or found != {
                str(b) for b in range(n_models)
            }:
                raise ValueError("the network's n_models does not match its tensors")
            prefixes = [f"module.members.{b}." for b in range(n_models)]
        counts = (inputs or {}).get("bin_counts")
        if counts is not None:
            counts = _bounded_counts(counts)
            for prefix in prefixes:
                found = tensors.get(prefix + "inputs.piecewise.impl.weight")
                if found is None or tuple(np.shape(found)) != (
                    len(counts),
                    max(counts, default=0),
                ):
                    raise ValueError(
                        "the network's bin counts do not match the file's tensors"
                    )
        # the shapes the document describes, built on torch's "meta" device
        # (no memory), must be the file's tensors before anything is allocated:
        # a forged hidden_layer_sizes of [30000, 30000] cost 3.8 GB to refuse
        with torch.device("meta"):
            meta = build_module(self._module_config)

        def shape(t):  # scalars (batch norm's counter) are stored as (1,)
            return tuple(np.shape(t)) or (1,)

        shapes = {f"module.{k}": shape(t) for k, t in meta.state_dict().items()}
        found = {k: shape(v) for k, v in tensors.items() if k.startswith("module.")}
        if shapes != found:
            raise ValueError(
                "the network the file describes does not have the file's tensors"
            )
        module, criterion = self._build_module_and_loss(every_model=True)
        expected = 0
        for part, obj in [("module", module), ("criterion", criterion)]:
            prefix = part + "."
            state = {
                k[len(prefix) :]: torch.from_numpy(np.array(v))
                for k, v in tensors.items()
                if k.startswith(prefix)
            }
            obj.load_state_dict(state, strict=True)
            expected += len(state)
        if expected != len(tensors):
            raise ValueError("the file holds tensors that the network does not have")
        self.net_ = self._build_net(
            module, criterion, batch_size=1, train_split=False, callbacks=[], seed=0
        )
        self.net_.initialize()


def _bounded_counts(counts):
    """A list of small positive ints, or ValueError (checked before any
    memory is sized by them)."""
    if not isinstance(counts, list) or not all(
        isinstance(c, int) and not isinstance(c, bool) and 0 < c <= 1024 for c in counts
    ):
        raise ValueError("the network's bin counts are not small positive integers")
    return counts

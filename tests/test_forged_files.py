"""Forged model files are refused before they can crash the process.

scikit-learn's native tree code follows child and feature indices without
bounds checks: a forest file whose trees were edited (anyone can recompute
the digest) would crash ``predict`` or read memory it does not own. Each
forged file is loaded and predicted from in a fresh process, which must exit
normally with the file refused.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import joint

from sklearn_multihead import RandomForestRegressorClassifier

FORGERIES = {
    "child far out of range": ("left_child", 0, 10**12),
    "child pointing back (a cycle)": ("right_child", 0, 0),
    "feature one past the last column": ("feature", 0, 3),
    "negative feature": ("feature", 0, -7),
}


def _forge(tmp_path, field, node, new):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 3))
    Y = np.c_[X[:, 0], X[:, 1] > 0]
    rf = RandomForestRegressorClassifier(
        n_estimators=3, target_types=["regression", "classification"], random_state=0
    ).fit(X, Y)
    tree = rf.estimators_[0][0].estimators_[1].tree_
    state = tree.__getstate__()
    state["nodes"][field][node] = new
    tree.__setstate__(state)
    path = tmp_path / "forged.safetensors"
    rf.save(path)  # the digest is recomputed: only the checks can refuse it
    return path


def _refuse_in_fresh_process(cls_name, path, baseline_imports):
    """Load ``path`` with ``cls_name`` in a fresh process whose imports of
    ``baseline_imports`` come first; returns the first printed line (the
    refusal) and the peak memory the load added, in MB."""
    code = textwrap.dedent(
        f"""
        import resource
        from sklearn_multihead import {cls_name}
        from sklearn_multihead._persist import ModelFileError
        import {baseline_imports}  # the imports are the baseline
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            {cls_name}.load({str(path)!r})
        except ModelFileError as exc:
            print("refused:", exc)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print("grew_mb", (after - before) / 1024)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    return lines[0], float(lines[-1].split()[1])


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_forged_forests_are_refused_and_the_process_survives(tmp_path, forgery):
    path = _forge(tmp_path, *FORGERIES[forgery])
    code = textwrap.dedent(
        f"""
        import numpy as np
        from sklearn_multihead import RandomForestRegressorClassifier
        from sklearn_multihead._persist import ModelFileError
        try:
            rf = RandomForestRegressorClassifier.load({str(path)!r})
        except ModelFileError as exc:
            print("refused:", exc)
        else:
            rf.predict(np.zeros((5, 3)))
            print("loaded")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("refused:"), done.stdout
    assert "out of range" in done.stdout


def test_an_honest_forest_file_still_loads(tmp_path):
    path = _forge(tmp_path, "feature", 0, 0)  # the root split on a real column
    loaded = RandomForestRegressorClassifier.load(path)
    assert loaded.predict(np.zeros((5, 3))).shape == (5, 2)


def _rewrite(path, text):
    """A safetensors file holding ``text`` as our document, digest recomputed
    (what anyone can do: the digest is a checksum, not a signature)."""
    from safetensors.numpy import save_file

    from sklearn_multihead._persist import _DIGEST_KEY, _DOC_KEY, _digest

    tensors = {"t": np.zeros(1, dtype=np.float32)}
    metadata = {_DOC_KEY: text, _DIGEST_KEY: _digest(text, tensors)}
    save_file(tensors, str(path), metadata=metadata)


def test_deeply_nested_json_is_a_model_file_error(tmp_path):
    from sklearn_multihead._persist import ModelFileError

    path = tmp_path / "nested.safetensors"
    # deep, but few lists for its size (the count of lists is checked first)
    _rewrite(path, "[" * 20_000 + " " * 200_000 + "]" * 20_000)
    with pytest.raises(ModelFileError, match="not valid JSON"):
        RandomForestRegressorClassifier.load(path)


def test_a_huge_header_length_is_refused_before_reading(tmp_path):
    from sklearn_multihead._persist import ModelFileError

    path = tmp_path / "huge.safetensors"
    path.write_bytes((2**40).to_bytes(8, "little") + b"{}")
    with pytest.raises(ModelFileError, match="a header of 1099511627776 bytes"):
        RandomForestRegressorClassifier.load(path)


def test_a_changed_document_is_refused_before_it_is_parsed(tmp_path):
    from safetensors.numpy import save_file

    from sklearn_multihead._persist import _DIGEST_KEY, _DOC_KEY, ModelFileError

    path = tmp_path / "changed.safetensors"
    metadata = {_DOC_KEY: "[" * 200_000, _DIGEST_KEY: "0" * 64}
    save_file({"t": np.zeros(1, dtype=np.float32)}, str(path), metadata=metadata)
    with pytest.raises(ModelFileError, match="SHA-256 digest does not match"):
        RandomForestRegressorClassifier.load(path)


def _forged_joint(tmp_path, change, **params):
    """A fitted network's file with its document changed by ``change(doc)``
    and the digest recomputed."""
    import pandas as pd

    from sklearn_multihead._persist import read_model, write_model

    X = np.random.RandomState(0).normal(size=(60, 3))
    Y = pd.DataFrame({"n": pd.array(np.arange(60), dtype="Int64")})
    est = joint(max_iter=2, target_types=["regression"], **params)
    path = tmp_path / "joint.safetensors"
    est.fit(X, Y).save(path)
    doc, tensors = read_model(path)
    change(doc)
    doc = {k: v for k, v in doc.items() if k not in ("format", "format_version")}
    write_model(path, doc, tensors)
    return path


@pytest.mark.parametrize(
    "dtype",
    ["datetime64[ns, dateutil//etc/passwd]", "string[pyarrow_numpy]x", "category"],
)
def test_dtype_strings_come_from_an_allow_list(tmp_path, dtype):
    import json

    from sklearn_multihead import JointRegressorClassifier
    from sklearn_multihead._persist import ModelFileError

    def change(doc):
        text = json.dumps(doc["targets"]).replace('"Int64"', json.dumps(dtype))
        assert text != json.dumps(doc["targets"])
        doc["targets"] = json.loads(text)

    path = _forged_joint(tmp_path, change)
    with pytest.raises(ModelFileError, match="unsupported pandas dtype"):
        JointRegressorClassifier.load(path)


def test_an_infinite_epoch_count_is_a_model_file_error(tmp_path):
    from sklearn_multihead import JointRegressorClassifier
    from sklearn_multihead._persist import ModelFileError

    def change(doc):
        doc["training"] = {
            "__dict__": [
                [k, {"__float__": "inf"} if k == "n_iter_" else v]
                for k, v in doc["training"]["__dict__"]
            ]
        }

    path = _forged_joint(tmp_path, change)
    with pytest.raises(ModelFileError, match="OverflowError"):
        JointRegressorClassifier.load(path)


def test_forged_layer_sizes_are_refused_before_any_memory_is_taken(tmp_path):
    """A file whose document says hidden_layer_sizes=[30000, 30000] (3.6 GB of
    weights) but holds small tensors is refused from the shapes alone, in a
    fresh process whose peak memory stays within 200 MB of its start."""

    def change(doc):
        doc["module"] = {
            "__dict__": [
                [k, [30000, 30000] if k == "hidden_layer_sizes" else v]
                for k, v in doc["module"]["__dict__"]
            ]
        }

    path = _forged_joint(tmp_path, change)
    refusal, grew_mb = _refuse_in_fresh_process(
        "JointRegressorClassifier", path, "torch, sklearn, skorch"
    )
    assert refusal.startswith("refused:") and "does not have the file's" in refusal
    assert grew_mb < 200


def _set_entry(node, key, value):
    """Replace the entry ``key`` wherever the document holds it."""
    if isinstance(node, dict):
        for v in node.values():
            _set_entry(v, key, value)
    elif isinstance(node, list):
        if len(node) == 2 and node[0] == key:
            node[1] = value
        for v in node:
            _set_entry(v, key, value)


@pytest.mark.parametrize(
    "counts, match",
    [
        ([10**9, 10**9, 10**9], "not small positive integers"),
        ([3, 3], "do not match the file's tensors"),
        ([2, 2, 2], "do not match the file's tensors"),
        ("48", "not small positive integers"),
    ],
)
def test_forged_bin_counts_are_refused_before_the_embedding_is_built(
    tmp_path, counts, match
):
    from sklearn_multihead import JointRegressorClassifier
    from sklearn_multihead._persist import ModelFileError

    path = _forged_joint(
        tmp_path,
        lambda doc: _set_entry(doc, "bin_counts", counts),
        numeric_embedding="piecewise",
    )
    with pytest.raises(ModelFileError, match=match):
        JointRegressorClassifier.load(path)


@pytest.mark.parametrize("n_models", [10**6, 3, 1, "2"])
def test_a_forged_number_of_networks_is_refused_before_they_are_built(
    tmp_path, n_models
):
    from sklearn_multihead import JointRegressorClassifier
    from sklearn_multihead._persist import ModelFileError

    path = _forged_joint(
        tmp_path, lambda doc: _set_entry(doc, "n_models", n_models), n_models=2
    )
    with pytest.raises(ModelFileError, match="n_models|tensors"):
        JointRegressorClassifier.load(path)


def _forest_with_arrays(tmp_path, change):
    """An honest forest file whose arrays are replaced by ``change(tensors)``
    (a dict of the file's tensors, changed in place), the digest recomputed."""
    from sklearn_multihead._persist import read_model, write_model

    path = _forge(tmp_path, "feature", 0, 0)
    doc, tensors = read_model(path)
    tensors = {k: np.array(v) for k, v in tensors.items()}
    change(tensors)
    doc = {k: v for k, v in doc.items() if k not in ("format", "format_version")}
    write_model(path, doc, tensors)
    return path


def _set(name, index, value):
    def change(tensors):
        tensors[name][index] = value

    return change


def _drop_last_node(tensors):
    for k in ("left", "right", "feature", "threshold", "value"):
        tensors[f"forest0.{k}"] = tensors[f"forest0.{k}"][:-1]


@pytest.mark.parametrize(
    "change, match",
    [
        (_set("forest0.offsets", 1, 10**12), "do not agree in size"),
        (_set("forest0.offsets", 1, 0), "do not agree in size"),
        (_drop_last_node, "do not agree in size"),
        (_set("forest0.threshold", 0, np.nan), "out of range"),
        (_set("forest0.value", 0, np.inf), "not finite"),
        (_set("forest1.value", (0, 0, 0), -1.0), "negative weights"),
        (lambda t: t.pop("forest1.value"), "do not match the targets"),
        (
            lambda t: t.update({"forest0.value": t["forest0.value"][:, :, [0, 0]]}),
            "regression forest with class values",
        ),
        (
            lambda t: t.update({"forest0.left": t["forest0.left"].astype(np.int32)}),
            "do not agree in size",
        ),
    ],
    ids=[
        "offset-far-out",
        "empty-tree",
        "truncated-arrays",
        "nan-threshold",
        "infinite-value",
        "negative-class-weight",
        "missing-array",
        "regression-with-classes",
        "int32-children",
    ],
)
def test_forged_forest_arrays_are_model_file_errors(tmp_path, change, match):
    from sklearn_multihead._persist import ModelFileError

    path = _forest_with_arrays(tmp_path, change)
    with pytest.raises(ModelFileError, match=match):
        RandomForestRegressorClassifier.load(path)


def _set_classes(codes):
    def change(forests, tensors):
        classes = forests[1][1][1]["__dict__"][0]  # the classification forest's
        assert classes == ["classes", [[0, 1]]]
        classes[1] = codes

    return change


def _one_forest_for_both_targets(forests, tensors):
    forests[0][1] = [[0, 1]]  # the groups: both targets in forest 0
    del forests[1][1][1]
    for name in [t for t in tensors if t.startswith("forest1.")]:
        del tensors[name]


@pytest.mark.parametrize(
    "change, match",
    [
        (_set_classes([[0, 5]]), "classes do not match its target"),  # 2 classes
        (_set_classes(None), "a classification forest without its classes"),
        (_one_forest_for_both_targets, "a forest for targets of two kinds"),
    ],
    ids=["class-out-of-range", "no-classes", "two-kinds"],
)
def test_forged_forest_documents_are_model_file_errors(tmp_path, change, match):
    from sklearn_multihead._persist import ModelFileError, read_model, write_model

    path = _forge(tmp_path, "feature", 0, 0)
    doc, tensors = read_model(path)
    tensors = dict(tensors)
    change(doc["forests"]["__dict__"], tensors)
    doc = {k: v for k, v in doc.items() if k not in ("format", "format_version")}
    write_model(path, doc, tensors)
    with pytest.raises(ModelFileError, match=match):
        RandomForestRegressorClassifier.load(path)


def _safetensors_file(path, header, body=b""):
    """A safetensors file of a given header, written byte by byte."""
    import json
    import struct

    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + body)
    return path


def _many_tiny_tensors(path):
    n = 130_000  # a 10 MB header
    header = {"__metadata__": {"sklearn_multihead": "{}", "sha256": "0" * 64}}
    for i in range(n):
        offsets = [4 * i, 4 * i + 4]
        header[f"t{i}"] = {"dtype": "F32", "shape": [1], "data_offsets": offsets}
    return _safetensors_file(path, header, bytes(4 * n))


def _a_huge_document(path):
    text = "[" * 10 + "1" * (9 * 2**20) + "]" * 10
    header = {"__metadata__": {"sklearn_multihead": text, "sha256": "0" * 64}}
    return _safetensors_file(path, header)


def _a_padded_document(path):
    """A real model's document padded with 2.2 million empty lists, its digest
    recomputed: parsed, it would cost 20-60 x its size."""
    import json

    from sklearn_multihead._persist import _DOC_KEY

    X = np.random.RandomState(0).normal(size=(40, 2))
    joint(max_iter=1, hidden_layer_sizes=(4,)).fit(X, X[:, 0]).save(path)
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        doc = json.loads(f.metadata()[_DOC_KEY])
    doc["padding"] = [[] for _ in range(2_200_000)]
    _rewrite(path, json.dumps(doc))
    return path


@pytest.mark.parametrize(
    "make, match",
    [
        (_many_tiny_tensors, "tensors; a model holds at most"),
        (_a_huge_document, "its SHA-256 digest does not match"),
        (_a_padded_document, "JSON lists and objects in"),
    ],
    ids=["130k-tiny-tensors", "9MB-document", "padded-document"],
)
def test_a_10_mb_file_costs_under_200_mb_to_refuse(tmp_path, make, match):
    path = make(tmp_path / "big.safetensors")
    assert 8 * 2**20 < path.stat().st_size <= 10 * 2**20
    refusal, grew_mb = _refuse_in_fresh_process(
        "JointRegressorClassifier", path, "torch, sklearn, skorch, safetensors"
    )
    assert refusal.startswith("refused:") and match in refusal, refusal
    assert grew_mb < 200


def _forged_network(tmp_path, change_doc=None, change_tensors=None):
    """A network with a 3-class target, a categorical and a missing-value
    column, saved; its document and tensors changed, the digest recomputed."""
    import pandas as pd

    from sklearn_multihead._persist import read_model, write_model

    rng = np.random.RandomState(0)
    X = pd.DataFrame(
        {
            "x": np.where(rng.rand(90) < 0.2, np.nan, rng.normal(size=90)),
            "c": rng.choice(["a", "b", "c"], 90),
        }
    )
    y = pd.Series(rng.choice(["p", "q", "r"], 90))
    path = tmp_path / "net.safetensors"
    joint(max_iter=2).fit(X, y).save(path)
    doc, tensors = read_model(path)
    if change_doc:
        change_doc(doc)
    if change_tensors:
        change_tensors(tensors)
    doc = {k: v for k, v in doc.items() if k not in ("format", "format_version")}
    write_model(path, doc, tensors)
    return path, X


def _set_doc_entry(key, value):
    def change(doc):
        _set_entry(doc, key, value)

    return change


@pytest.mark.parametrize(
    "change_doc, change_tensors, match",
    [
        (_set_doc_entry("head_sizes", [5]), None, "head sizes do not match"),
        (_set_doc_entry("head_kinds", ["regression"]), None, "heads do not match"),
        (_set_doc_entry("class_weights", [[1.0, 2.0]]), None, "class weights do"),
        (_set_doc_entry("n_features", 5), None, "does not match the features"),
        (_set_doc_entry("cardinalities", [9]), None, "input layer does not match"),
        (_set_doc_entry("missing_columns", [7]), None, "missing column is not an"),
        (
            None,
            lambda t: t.__setitem__(
                "module.inputs.offsets", np.array([10**6], dtype=np.int64)
            ),
            "offsets do not match the network's configuration",
        ),
        (
            None,
            lambda t: t.__setitem__(
                "module.inputs.missing_columns", np.array([7], dtype=np.int64)
            ),
            "missing_columns do not match the network's configuration",
        ),
        (
            None,
            lambda t: t["module.inputs.center"].__setitem__(0, np.nan),
            "module.inputs.center is not finite",
        ),
    ],
    ids=[
        "5-output-head",
        "head-kinds",
        "class-weights",
        "n-features",
        "cardinalities",
        "missing-columns-doc",
        "offsets",
        "missing-columns",
        "nan-center",
    ],
)
def test_forged_network_arrays_are_refused_on_load(
    tmp_path, change_doc, change_tensors, match
):
    from sklearn_multihead import JointRegressorClassifier
    from sklearn_multihead._persist import ModelFileError

    path, X = _forged_network(tmp_path, change_doc, change_tensors)
    with pytest.raises(ModelFileError, match=match):
        JointRegressorClassifier.load(path)

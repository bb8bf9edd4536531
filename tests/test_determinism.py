"""Same random_state, same model: across torch thread counts and processes."""

import subprocess
import sys
import textwrap

import torch

#: fits a model and returns a digest of its predictions and probabilities; run
#: as a script (fresh process, threads from argv) and exec'd here alike
SCRIPT = textwrap.dedent(
    """
    import hashlib, sys, warnings
    import numpy as np, torch
    from sklearn_multihead import JointRegressorClassifier
    from sklearn_multihead.datasets import make_joint_dataset

    def digest():
        X, Y = make_joint_dataset(n_samples=300, n_labels=3, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = JointRegressorClassifier(n_models=1,
                max_iter=15, dropout=0.1, batch_size=64, random_state=7
            ).fit(X, Y)
        h = hashlib.sha256(est.predict(X).to_csv().encode())
        for p in est.predict_proba(X):
            h.update(np.ascontiguousarray(p).tobytes())
        return h.hexdigest()

    if __name__ == "__main__":
        torch.set_num_threads(int(sys.argv[1]))
        print(digest())
    """
)


def _digest_here(threads):
    namespace = {"__name__": "determinism_script"}
    exec(SCRIPT, namespace)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return namespace["digest"]()
    finally:
        torch.set_num_threads(before)


def test_one_and_two_threads_give_identical_models():
    assert _digest_here(1) == _digest_here(2)


def test_two_processes_give_identical_models():
    """Two fresh interpreters (one and two threads, started together) and this
    one agree bit for bit."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(threads)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for threads in (1, 2)
    ]
    digests = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        digests.append(out.strip())
    assert digests[0] == digests[1] == _digest_here(1)

"""
Several independent yes/no outputs, with per-output loss weights.
=================================================================

Four binary outputs share one network. Say the first one matters most: its
loss can count three times in the sum (``loss_weights`` by name, the others
keep weight 1), or the weights can be learned (``"uncertainty"``). The
example prints each output's held-out accuracy under the three choices, and
the learned weights, so the trade-off is visible before you pick one.

    python examples/yes_no_loss_weights.py
"""

import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sklearn_multihead import JointRegressorClassifier, estimator_report
from sklearn_multihead.datasets import make_joint_dataset

X, Y = make_joint_dataset(
    n_samples=3000,
    n_regression=0,
    n_binary=4,
    n_multiclass=0,
    noise=0.5,
    random_state=0,
)
X_train, X_test, Y_train, Y_test = train_test_split(X, Y, random_state=0)

settings = {
    "equal weights": None,
    "bin_0 x 3": {"bin_0": 3.0},
    "learned (uncertainty)": "uncertainty",
}
rows = {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    for name, weights in settings.items():
        # the weights act on the joint networks alone: each target's own
        # model (target_networks, on by default below 2,500 rows) has no
        # other target to be weighed against, and would halve their effect
        model = JointRegressorClassifier(
            loss_weights=weights, max_iter=60, target_networks=False, random_state=0
        ).fit(X_train, Y_train)
        rows[name] = estimator_report(model, X_test, Y_test).set_index("target")
        if weights == "uncertainty":
            learned = model.net_.criterion_.effective_weights().tolist()

print(f"{'output':<8}" + "".join(f"{name:>24}" for name in settings))
for target in Y.columns:
    cells = "".join(f"{rows[n].loc[target, 'accuracy']:>24.3f}" for n in settings)
    print(f"{target:<8}{cells}")
print("learned weights:", [round(w, 2) for w in learned])

"""Pictures of a fitted model (matplotlib, the ``plot`` extra).

Inside:

- ``plot_history``: per-target learning curves from ``history_``: training
  loss of every target (solid) and, with early stopping, its validation loss
  (dashed, same colour), and the total loss in black.
"""

__all__ = ["plot_history"]


def plot_history(estimator, ax=None, total=True, log_scale=True):
    """Draw the per-target learning curves of a fitted JointRegressorClassifier.

    Parameters
    ----------
    estimator : JointRegressorClassifier
        Fitted; its ``history_`` is drawn.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.
    total : bool, default=True
        Also draw the total (weighted) loss.
    log_scale : bool, default=True
        Logarithmic loss axis (losses of different targets differ in scale).

    Returns
    -------
    ax : matplotlib Axes
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            'plot_history needs matplotlib: pip install "sklearn-multihead[plot]".'
        ) from None
    history = getattr(estimator, "history_", None)
    if history is None:
        raise ValueError(
            "plot_history needs a fitted JointRegressorClassifier (it draws "
            f"history_). Got an unfitted {type(estimator).__name__}: call fit first."
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(8.0, 4.4), layout="constrained")
    epochs = history.index.to_numpy()
    prefix = "train_loss_"
    targets = [c[len(prefix) :] for c in history.columns if c.startswith(prefix)]
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    for i, name in enumerate(targets):
        color = colors[i % len(colors)]
        ax.plot(epochs, history[prefix + name], color=color, label=f"{name} (train)")
        valid = f"valid_loss_{name}"
        if valid in history:
            ax.plot(
                epochs,
                history[valid],
                color=color,
                linestyle="--",
                label=f"{name} (valid)",
            )
    if total:
        ax.plot(
            epochs, history["train_loss"], color="black", lw=2, label="total (train)"
        )
        if "valid_loss" in history:
            ax.plot(
                epochs,
                history["valid_loss"],
                color="black",
                lw=2,
                linestyle="--",
                label="total (valid)",
            )
    if log_scale and (history.filter(like="loss") > 0).all().all():
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (standardised units for regression)")
    # beside the curves, never over them (a figure made here leaves room for it)
    n_lines = len(ax.get_lines())
    ax.legend(
        fontsize="small",
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
        ncol=1 if n_lines <= 12 else 2,
    )
    ax.grid(True, alpha=0.3)
    return ax

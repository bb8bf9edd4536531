"""A text summary of a fitted network, like Keras' ``model.summary()``
(torch only).

Inside:

- ``network_summary``: one line per layer (name, type, output shape,
  parameters, found by running two rows of zeros through the module with
  forward hooks), one line per head (its output columns, kind and what
  ``predict`` returns for it), and the parameter counts. With ``n_models``
  > 1, the layers of the first network, which the others repeat. The
  network's input is the feature plan's matrix: X's columns, and the
  target-encoded shares of columns of rare categories and the codes of
  discrete numeric columns (named below it).
"""

import torch


def network_summary(est):
    """The summary text of a fitted ``JointRegressorClassifier``."""
    whole = est.net_.module_
    members = getattr(whole, "members", None)
    module = whole if members is None else members[0]
    shapes = {}
    hooks = [
        m.register_forward_hook(
            lambda mod, inp, out, name=name: shapes.__setitem__(name, out.shape)
        )
        for name, m in module.named_modules()
        if name and not list(m.children())
    ]
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            device = next(module.parameters()).device
            module(torch.zeros(2, est._features.width, device=device))
    finally:
        module.train(was_training)
        for h in hooks:
            h.remove()
    rows = [("input", "", f"(batch, {est._features.width})", "")]
    for name, m in module.named_modules():
        if name in shapes:
            n = sum(p.numel() for p in m.parameters(recurse=False))
            shape = "(batch, " + ", ".join(str(d) for d in shapes[name][1:]) + ")"
            rows.append((name, type(m).__name__, shape, f"{n:,}"))
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    width = [
        max(w, len(h)) for w, h in zip(width, ("layer", "type", "output", "params"))
    ]
    fmt = "{{:<{}}}  {{:<{}}}  {{:<{}}}  {{:>{}}}".format(*width)
    lines = [
        f"{type(est).__name__}: {est.n_features_in_} features -> "
        f"{est.n_outputs_} targets",
        fmt.format("layer", "type", "output", "params"),
        "-" * (sum(width) + 6),
    ]
    lines += [fmt.format(*r) for r in rows]
    names = getattr(est, "feature_names_in_", None)
    for e in est._features.encodings_:
        column = names[e["column"]] if names is not None else e["column"]
        target = est._encoder.names_[e["target"]]
        lines.append(
            f"(input: X's column {column!r} also as {len(e['table'])} target-encoded "
            f"share(s) of {target!r})"
        )
    for j, vocab in zip(est._features.levels_, est._features.level_vocabularies_):
        column = names[j] if names is not None else j
        lines.append(
            f"(input: X's numeric column {column!r} also as a category of its "
            f"{len(vocab)} values)"
        )
    if members is not None:
        lines.append(
            f"(the first of {len(members)} networks of this shape, fitted apart; "
            "predictions are their average)"
        )
    lines += ["", "heads (columns of the output):"]
    for j, (sl, kind) in enumerate(est._heads()):
        name = est._encoder.names_[j]
        if kind == "regression":
            what = "a number, in the target's units"
        else:
            what = f"one of {len(est.target_classes_[j])} classes"
        cols = f"{sl.start}" if sl.stop - sl.start == 1 else f"{sl.start}:{sl.stop}"
        lines.append(f"  {str(name)!s:<16} {kind:<11} column {cols:<7} -> {what}")
    total = sum(p.numel() for p in whole.parameters())
    trainable = sum(p.numel() for p in whole.parameters() if p.requires_grad)
    learned = sum(p.numel() for p in est.net_.criterion_.parameters())
    lines += ["", f"parameters: {total:,} ({trainable:,} trainable)"]
    if learned:
        lines.append(f"learned loss weights: {learned}")
    return "\n".join(lines)

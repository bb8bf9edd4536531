"""Progress of the command's fits: bars over fits and epochs, a line per fit.

Inside:

- ``EpochTicker``: a skorch callback that calls a function at the end of
  every epoch (passed to ``JointRegressorClassifier(callbacks=...)``).
- ``Progress``: a tqdm bar over the fits and, inside each network fit, a bar
  over its epochs, and one line per finished fit with its time and epochs
  (on stderr, so that stdout holds only results).
"""

import sys

from skorch.callbacks import Callback
from tqdm.auto import tqdm


class Bar(tqdm):
    """tqdm without its monitor thread (which only fixes the refresh rate of
    bars that stall): the command's process stays on one Python thread, so
    that ``compare`` may fork its workers."""

    monitor_interval = 0


class EpochTicker(Callback):
    """Calls ``tick()`` at the end of every epoch (a plain function, so the
    callback survives the deep copies that ``clone`` makes)."""

    def __init__(self, tick):
        self.tick = tick

    def on_epoch_end(self, net, **kwargs):
        self.tick()


class Progress:
    """Progress of a command: a bar over fits, a bar over the epochs of the
    running network fit, and a line per finished fit (on stderr)."""

    def __init__(self, n_fits, enabled=True):
        self.enabled = enabled
        self.fits = Bar(
            total=n_fits, unit="fit", file=sys.stderr, leave=False, disable=not enabled
        )
        self.epochs = None

    def ticker(self):
        """A callback list for a network whose epochs this progress shows."""

        def tick():
            if self.epochs is not None:
                self.epochs.update(1)

        return [("progress", EpochTicker(tick))]

    def start(self, label, max_epochs=None):
        self.fits.set_description(label)
        if max_epochs and self.enabled:
            self.epochs = Bar(
                total=max_epochs,
                unit="epoch",
                desc="  epochs",
                file=sys.stderr,
                leave=False,
                position=1,
            )

    def done(self, label, seconds, epochs=None):
        if self.epochs is not None:
            self.epochs.close()
            self.epochs = None
        self.fits.update(1)
        detail = f" ({epochs} epochs)" if epochs else ""
        tqdm.write(f"{label}: fitted in {seconds:.1f} s{detail}", file=sys.stderr)

    def close(self):
        self.fits.close()

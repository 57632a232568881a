"""What training measures and records: the metrics, and the per-epoch history (JSON and a plot)."""
from __future__ import annotations

import numpy

# ---------------------------------------------------------------- metrics
# Each metric takes the model's raw outputs and the targets as host NumPy arrays; returns a float.
# Raw outputs means logits for classifiers: one column is a binary logit (class 1 when it is > 0),
# several columns are class scores (the class is the argmax).

def accuracy(outputs: numpy.ndarray, targets: numpy.ndarray) -> float:
    """The fraction of examples whose predicted class equals the target class."""
    if outputs.ndim == 2 and outputs.shape[1] > 1:
        predicted = outputs.argmax(axis=1)
    else:
        predicted = (outputs.reshape(-1) > 0).astype(numpy.int64)
    return float(numpy.mean(predicted == targets.reshape(-1)))


def rmse(outputs: numpy.ndarray, targets: numpy.ndarray) -> float:
    """Root mean squared error √(mean (y − t)²), in the units of the targets given."""
    difference = outputs.reshape(targets.shape).astype(numpy.float64) - targets
    return float(numpy.sqrt(numpy.mean(difference * difference)))


def r2(outputs: numpy.ndarray, targets: numpy.ndarray) -> float:
    """Coefficient of determination 1 − Σ(y − t)² / Σ(t − t̄)², averaged over output columns.
    A column whose targets are all equal has no variance to explain: it scores 1 if predicted
    exactly and 0 otherwise, as scikit-learn's ``r2_score`` (and so an estimator's ``score``)
    has it, rather than −∞ or NaN."""
    targets = targets.astype(numpy.float64).reshape(len(targets), -1)
    outputs = outputs.astype(numpy.float64).reshape(targets.shape)
    residual = ((outputs - targets) ** 2).sum(axis=0)
    total = ((targets - targets.mean(axis=0)) ** 2).sum(axis=0)
    varies = total != 0
    scores = numpy.where(residual == 0, 1.0, 0.0)
    scores[varies] = 1 - residual[varies] / total[varies]
    return float(numpy.mean(scores))


# Metrics where a larger value is better; every other monitored quantity is minimised.
HIGHER_IS_BETTER = {"accuracy", "r2"}


# ---------------------------------------------------------------- history
class History:
    """One record per epoch (``epoch``, ``loss``, ``val_loss``, ``val_<metric>``, ``seconds``,
    ``samples_per_second``), plus which epoch was best for the monitored quantity."""

    def __init__(self, records: list | None = None, monitor: str | None = None,
                 best_epoch: int | None = None, stopped_early: bool = False):
        self.records = list(records or [])
        self.monitor = monitor
        self.best_epoch = best_epoch
        self.stopped_early = stopped_early
        self.compiled = None  # fit sets it: whether its steps were compiled (chainrule.compile)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: str) -> list:
        """The column ``key`` over the epochs, e.g. ``history["val_accuracy"]``."""
        return [record.get(key) for record in self.records]

    @property
    def last(self) -> dict:
        return self.records[-1] if self.records else {}

    def still_improving(self, window: int = 10, tol: float = 1e-4) -> bool:
        """Whether the monitored quantity was still improving at the end: its best value over the
        last ``window`` epochs beats the best before them by more than ``tol`` (scikit-learn's
        convergence rule for its MLPs, with ``n_iter_no_change`` = ``window``). A run shorter
        than ``window`` epochs is compared with its first epoch; a single epoch shows nothing."""
        values = self[self.monitor]
        if len(values) < 2:
            return True
        recent, before = values[-window:], values[:-window] or values[:1]
        if self.monitor.removeprefix("val_") in HIGHER_IS_BETTER:
            return max(recent) > max(before) + tol
        return min(recent) < min(before) - tol

    def to_dict(self) -> dict:
        return {"monitor": self.monitor, "best_epoch": self.best_epoch,
                "stopped_early": self.stopped_early, "epochs": self.records}

    @classmethod
    def from_dict(cls, state: dict) -> "History":
        return cls(state["epochs"], state.get("monitor"), state.get("best_epoch"),
                   state.get("stopped_early", False))

    def save(self, path) -> None:
        """Write the history as JSON (atomically: a crash leaves the previous file whole)."""
        from .checkpoint import save_json

        save_json(path, self.to_dict())

    @classmethod
    def load(cls, path) -> "History":
        from .checkpoint import load_json

        return cls.from_dict(load_json(path))

    def plot(self, path) -> None:
        """Loss curves (training and validation) on the left, validation metrics on the right."""
        import matplotlib.pyplot as plt

        from .checkpoint import atomic_path

        figure = self._figure()
        try:
            with atomic_path(path) as temporary:
                figure.savefig(temporary, dpi=100, format="png")
        finally:
            plt.close(figure)

    def _repr_html_(self) -> str:
        """In a notebook: the loss plot, inline as SVG, and the best and last epochs' numbers."""
        import io
        from html import escape

        import matplotlib.pyplot as plt

        if not self.records:
            return "<p>History: no epochs yet</p>"
        figure = self._figure()
        try:
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg")
        finally:
            plt.close(figure)
        shown = [self.records[self.best_epoch - 1]] if self.best_epoch else []
        shown += [self.last] if self.last not in shown else []
        keys = [key for key in self.records[0] if key not in ("seconds", "samples_per_second")]
        rows = "".join("<tr>" + "".join(f"<td>{escape(_cell(record.get(key)))}</td>"
                                        for key in keys) + "</tr>" for record in shown)
        header = "".join(f"<th>{escape(key)}</th>" for key in keys)
        title = f"{len(self)} epochs, monitoring {self.monitor}" + (
            f", best epoch {self.best_epoch}" if self.best_epoch else "")
        svg = buffer.getvalue()
        svg = svg[svg.index("<svg"):]  # inline: without the XML prolog and doctype
        return (f"<p><b>{escape(title)}</b></p>{svg}"
                f"<table><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>")

    def _figure(self):
        from .extras import require

        require("train", "matplotlib", purpose="plotting the history")
        import matplotlib

        if matplotlib.get_backend().lower() not in ("agg", "svg") and "inline" not in \
                matplotlib.get_backend().lower():
            matplotlib.use("Agg")  # no display: draw to a file or a notebook only
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        epochs = self["epoch"]
        metrics = [key for key in self.records[0] if key.startswith("val_") and key != "val_loss"]
        figure, axes = plt.subplots(1, 2 if metrics else 1, figsize=(10 if metrics else 5, 3.6),
                                    squeeze=False)
        loss_axis = axes[0][0]
        loss_axis.plot(epochs, self["loss"], marker="o", markersize=3, label="training loss")
        if "val_loss" in self.records[0]:
            loss_axis.plot(epochs, self["val_loss"], marker="o", markersize=3,
                           label="validation loss")
        loss_axis.set(xlabel="epoch", ylabel="loss", title="loss")
        for name in metrics:
            axes[0][1].plot(epochs, self[name], marker="o", markersize=3,
                            label=name.replace("val_", "validation "))
        if metrics:
            axes[0][1].set(xlabel="epoch", title="validation metrics")
        for axis in axes[0]:
            if self.best_epoch is not None:
                axis.axvline(self.best_epoch, color="grey", linestyle=":", label="best epoch")
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
            axis.grid(alpha=0.3)
            axis.legend()
        figure.tight_layout()
        return figure


def _cell(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)

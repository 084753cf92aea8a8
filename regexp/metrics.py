"""Metric names, the tasks they apply to, and their direction: no dependencies, so report starts fast."""

from typing import Literal

# metric name -> the tasks it applies to
METRICS: dict[str, tuple[str, ...]] = {
    "accuracy": ("classification", "binary"),
    "auc": ("binary",),
    "precision": ("binary",),
    "recall": ("binary",),
    "top3_accuracy": ("classification",),
    "mae": ("regression",),
    "mse": ("regression",),
    "rmse": ("regression",),
    "r2": ("regression",),
}
MAXIMIZED = {"accuracy", "auc", "precision", "recall", "top3_accuracy", "r2"}
PARTS = ("train", "val", "test")


def direction(metric: str) -> Literal["min", "max"]:
    """'max' where higher is better (val_accuracy, test_auc), 'min' for losses, errors, time."""
    name = metric
    for prefix in ("train_", "val_", "test_", "gap_"):
        name = name.removeprefix(prefix)
    return "max" if name in MAXIMIZED else "min"

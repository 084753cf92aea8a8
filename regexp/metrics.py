"""The metric catalogue: names, the tasks they apply to, and which are maximized. No dependencies,
so the spec schema and report start fast. Column names (val_accuracy, gap_loss) are MetricKeys
(regexp/store/contract.py)."""

EVAL_BATCH = 1024  # evaluation has no gradient noise to trade for speed: big batches, same numbers

# metric name -> the tasks it applies to
METRICS: dict[str, tuple[str, ...]] = {
    "accuracy": ("classification", "binary"),
    "auc": ("binary",),
    "precision": ("binary",),
    "recall": ("binary",),
    "top3_accuracy": ("classification",),
    "ece": ("classification", "binary"),  # expected calibration error, 15 equal-width confidence bins
    "mae": ("regression",),
    "mse": ("regression",),
    "rmse": ("regression",),
    "r2": ("regression",),
}
MAXIMIZED = {"accuracy", "auc", "precision", "recall", "top3_accuracy", "r2", "mc_accuracy"}
# diagnostics with no better side: a comparison says "higher" or "lower", never "better" or "worse"
NEUTRAL = {"mc_entropy", "mc_entropy_right", "mc_entropy_wrong", "mc_std", "penalty"}
# the range a metric's values (and so its confidence intervals) live in; the rest are unbounded
UNIT = ("accuracy", "auc", "precision", "recall", "top3_accuracy", "ece", "mc_accuracy")
NON_NEGATIVE = ("loss", "mae", "mse", "rmse", "mc_loss", "mc_entropy", "mc_entropy_right", "mc_entropy_wrong", "mc_std",
                "penalty")
RANGES = {**{name: (0.0, 1.0) for name in UNIT}, **{name: (0.0, None) for name in NON_NEGATIVE}, "r2": (None, 1.0)}
ALIASES = {"acc": "accuracy"}  # Keras accepts metrics=["acc"]; its history then says accuracy


def canonical(name):
    """`acc`, `val_acc`, `test_acc` ... -> the catalogue's name (accuracy, val_accuracy, ...)."""
    if not isinstance(name, str):
        return name
    for prefix in ("", "train_", "val_", "test_", "gap_"):
        for alias, full in ALIASES.items():
            if name == prefix + alias:
                return prefix + full
    return name

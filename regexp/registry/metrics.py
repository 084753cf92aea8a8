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
# a share of the part's samples: one sample is 1/n of it, so two runs on one part differ in steps of 1/n
RESOLVED = ("accuracy", "top3_accuracy", "mc_accuracy")
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


def span(name: str) -> float | None:
    """The width of a metric's range (1 for an accuracy), None when a side is open: a paired
    difference lies in [-span, +span]."""
    low, high = RANGES.get(name, (None, None))
    return None if low is None or high is None else high - low


def resolution(name: str, samples: int | None) -> float | None:
    """The step of a metric's values on a part of `samples` samples: 1/n for an accuracy-like metric,
    None for a continuous one (or an unknown size)."""
    return 1.0 / samples if name in RESOLVED and samples else None


def margin_below(margin: float, step: float, column: str, samples: int | None = None) -> str:
    """Why a margin below the resolution decides no equivalence, naming both numbers."""
    samples = samples or (round(1 / step) if abs(1 / step - round(1 / step)) < 1e-6 else None)
    one = f"1/{samples} = {step:.4g}" if samples else f"{step:.4g}"
    return (f"{margin:g} is below one sample of the part {column} is scored on ({one}): paired differences come in "
            f"steps of {step:.4g}, so no arm will be called equivalent; an arm can still be better or worse (a margin "
            f"of at least {step:.4g}, or a larger part, makes equivalence decidable)")

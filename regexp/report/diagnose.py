"""`regexp diagnose`: the bias/variance recipe read off finished runs, and learning curves.

    avoidable bias = train error - best achievable (Bayes) error     -> bigger network, train longer
    variance       = dev error - train error                         -> more data, more regularization
    dev -> test    = test error - dev error                          -> the dev set was overfit, or differs

Error is 1 - accuracy for classification and the main metric (mae, ...) for regression. The
thresholds are absolute error points for classification (default 0.02) and relative to the dev
error for regression (default 0.1 x dev error); all three can be set on the command line. For
classification a gap must also exceed two standard errors of the error estimates (binomial, from
the val/test sizes): a 0.024 gap on 400 validation samples at 50% error is noise, not variance.
Reading runs needs no TensorFlow; only --learning-curve trains.
"""

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import NormalDist

from regexp.errors import UserError
from regexp.report.collect import Row, mapping, run_values
from regexp.report.stats import ALPHA, POWER
from regexp.spec.layers import RECURRENT
from regexp.store.contract import RunMetrics, Status

DEFAULT_CLASSIFICATION_THRESHOLD = 0.02  # 2 points of error
DEFAULT_REGRESSION_FRACTION = 0.10       # 10% of the dev error


@dataclass
class Thresholds:
    bias: float
    variance: float
    mismatch: float


@dataclass
class Diagnosis:
    target: str
    n: int
    error_of: str                      # "1 - accuracy" or the regression metric
    train: float
    dev: float
    test: float | None
    bayes: float
    bayes_source: str                  # "spec", "command line" or "not given: assumed 0"
    thresholds: Thresholds
    verdict: str
    steps: list[str]
    curve: list[str] = field(default_factory=list)

    @property
    def avoidable_bias(self) -> float:
        return self.train - self.bayes

    @property
    def variance(self) -> float:
        return self.dev - self.train

    @property
    def dev_test_gap(self) -> float | None:
        return None if self.test is None else self.test - self.dev

    def to_json(self) -> dict:
        return {**asdict(self), "avoidable_bias": self.avoidable_bias, "variance": self.variance,
                "dev_test_gap": self.dev_test_gap}


def diagnose_target(target: str, runs_dir: Path, *, bayes: float | None = None,
                    thresholds: dict | None = None) -> Diagnosis:
    """The verdict for a run folder, or a run or group named by id, id prefix or name in runs_dir."""
    from regexp.report import build_report, find_row
    from regexp.report.options import ReportOptions

    folder = Path(target).is_dir()
    exact_run = folder or (runs_dir / target).is_dir()
    report = build_report(ReportOptions(targets=(target,) if folder else (), runs_dir=runs_dir, no_groups=exact_run))
    if folder and not report.rows:
        raise UserError(f"{target}: not a run folder")
    row = report.rows[0] if folder else find_row(report.rows, target)
    return diagnose_row(row, report.metric, bayes=bayes, thresholds=thresholds)


def error_metric(task: str | None, main: str) -> tuple[str, bool]:
    """(metric, is_regression): accuracy for classification, the main metric for regression."""
    regression = task == "regression"
    return (main if regression else "accuracy"), regression


def diagnose_row(row: Row, main: str, *, bayes: float | None = None, thresholds: dict | None = None) -> Diagnosis:
    """The verdict for one run or one group (averaged over its completed members). A pruned run is
    no subject: its errors are those of a network stopped after a few epochs, high bias by design."""
    run = row.members[0]
    if row.kind == "run" and run.status == Status.PRUNED:
        epochs = run.metrics.epochs_run if run.metrics else "a few"
        raise UserError(f"{row.id}: pruned by its sweep's search.halving after {epochs} "
                        "epochs, so its errors are of an unfinished network; diagnose a completed run or the sweep's "
                        f"best point (regexp report --filter parent={run.info.parent})")
    metric, regression = error_metric((run.metrics and run.metrics.task) or run.info.task, main)
    values = [run_values(r, metric) for r in row.members if r.status == Status.COMPLETED or row.kind == "run"]

    def error(part: str) -> float | None:
        found = [v[f"{part}_{metric}"] for v in values if f"{part}_{metric}" in v]
        if not found:
            return None
        mean = sum(found) / len(found)
        return mean if regression else 1 - mean
    train, dev, test = error("train"), error("val"), error("test")
    if train is None or dev is None:
        statuses = Counter(str(r.status) for r in row.members)
        raise UserError(f"{row.id}: needs train and validation {metric} (a completed run with a validation part "
                        f"that tracks {metric}; its runs: {', '.join(f'{n} {s}' for s, n in statuses.items())})")
    config = row.members[0].config
    spec_bayes = mapping(config.get("evaluation")).get("bayes_error")
    if bayes is not None:
        source = "command line"
    elif isinstance(spec_bayes, (int, float)):
        bayes, source = float(spec_bayes), "spec"
    else:
        bayes, source = 0.0, "not given, assumed 0: set evaluation.bayes_error or --bayes-error"
    default = DEFAULT_REGRESSION_FRACTION * max(dev, 1e-12) if regression else DEFAULT_CLASSIFICATION_THRESHOLD
    limits = Thresholds(**{k: (thresholds or {}).get(k) or default for k in ("bias", "variance", "mismatch")})
    if not regression:  # a gap within sampling noise of the error estimates is not a finding
        sizes = [r.metrics.sizes for r in row.members if r.metrics and r.metrics.sizes]
        n_val, n_test = sum(s.val for s in sizes), sum(s.test for s in sizes)
        se_dev = _standard_error(dev, n_val)
        limits.variance = max(limits.variance, 2 * se_dev)
        if test is not None:
            limits.mismatch = max(limits.mismatch, 2 * (se_dev**2 + _standard_error(test, n_test) ** 2) ** 0.5)
    high_bias, high_variance = train - bayes > limits.bias, dev - train > limits.variance
    mismatch = test is not None and test - dev > limits.mismatch
    verdict = ("high bias and high variance" if high_bias and high_variance else "high bias" if high_bias
               else "high variance" if high_variance else "dev/test mismatch" if mismatch else "fine")
    steps = []
    if high_bias:
        steps += _bias_steps(config, row)
    if high_variance:
        steps += _variance_steps(config)
    if mismatch:
        steps.append("test error is above dev error: the dev set may be overfit by many decisions, or val and test "
                     "differ; get a fresh dev set, keep data.split.stratify: true, and decide on val only")
    if not steps:
        steps.append("nothing to fix at these thresholds")
    dev_errors = [v[f"val_{metric}"] if regression else 1 - v[f"val_{metric}"] for v in values
                  if f"val_{metric}" in v]
    steps.append(seeds_step(dev_errors, limits.variance))
    return Diagnosis(row.id, len(row.member_values), "1 - accuracy" if not regression else metric, train, dev, test,
                     bayes, source, limits, verdict, steps, _curve_notes(row, config))


def seeds_needed(std: float, delta: float, alpha: float = ALPHA, power: float = POWER) -> int:
    """Seeds per arm for a two-sample comparison to find a difference `delta` in a value whose
    seed-to-seed spread is `std`: n ≈ (z_{1-α/2} + z_{power})² · 2σ² / δ² (normal approximation), at least 2."""
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return max(2, math.ceil(z**2 * 2 * std**2 / delta**2))


def seeds_step(dev_errors: list[float], delta: float) -> str:
    """What these seeds can tell: from the dev error's spread over them, the seeds each arm of a
    comparison (this config against a next step's) needs to tell a change of `delta` (the variance
    threshold: the smallest gap this diagnosis counts) from seed noise, or that n already suffices."""
    n = len(dev_errors)
    terms = f"{POWER:.0%} power, α = {ALPHA:g}, two-sided"
    if n < 2:
        return ("one seed: how much dev error varies between seeds is not measured, so no change can yet be told "
                "from seed noise; repeat: 5 measures it, and diagnose then says how many seeds a change of "
                f"{delta:.3g} needs")
    mean = sum(dev_errors) / n
    std = math.sqrt(sum((e - mean) ** 2 for e in dev_errors) / (n - 1))
    needed = seeds_needed(std, delta)
    spread = (f"dev error varies by σ = {std:.3g} between these {n} seeds, so telling a change of {delta:.3g} in it "
              f"(a next step's effect) from seed noise needs about {needed} seeds per arm ({terms}; "
              "n ≈ (z₀.₉₇₅ + z₀.₈)²·2σ²/δ²)")
    if needed <= n:
        return f"seeds: {n} already suffice: {spread}"
    return f"seeds: more than these {n}: {spread}; repeat: {needed}"


def _standard_error(error: float, n: int) -> float:
    """Standard error of an error rate measured on n samples (binomial)."""
    return (error * (1 - error) / n) ** 0.5 if n > 0 else 0.0


def _first_units(config: dict) -> tuple[int | None, int | None]:
    """The first dense or recurrent layer's index and units."""
    layers = mapping(config.get("model")).get("layers") or []
    for i, layer in enumerate(layers):
        if isinstance(layer, dict) and layer.get("type") in ("dense", *RECURRENT):
            return i, layer.get("units")
    return None, None


def _recurrent(config: dict) -> tuple[int, dict] | None:
    """The first recurrent layer (index, keys): model.defaults do not reach it, its own keys do."""
    layers = mapping(config.get("model")).get("layers") or []
    return next(((i, layer) for i, layer in enumerate(layers)
                 if isinstance(layer, dict) and layer.get("type") in RECURRENT), None)


def _bias_steps(config: dict, row: Row) -> list[str]:
    model, training = mapping(config.get("model")), mapping(config.get("training"))
    defaults = mapping(model.get("defaults"))
    i, units = _first_units(config)
    recurrent = _recurrent(config)
    steps = []
    if units and recurrent is not None and recurrent[0] == i:
        wider = "" if recurrent[1].get("bidirectional") else f", or model.layers.{i}.bidirectional: true"
        steps.append(f"bigger network: try model.layers.{i}.units: {units * 2}{wider}")
    elif units:
        steps.append(f"bigger network: try model.layers.{i}.units: {units * 2}, or add a layer "
                     f"{{type: dense, units: {units}}} to model.layers")
    epochs, best = training.get("epochs"), row.mean("best_epoch")
    if isinstance(epochs, int) and best is not None and best >= 0.8 * (row.mean("epochs_run") or epochs):
        steps.append(f"train longer: try training.epochs: {epochs * 2} (val loss was still improving near the end)")
    if defaults.get("l2"):
        steps.append(f"less regularization: try model.defaults.l2: {defaults['l2'] / 10:g}")
    if defaults.get("dropout"):
        steps.append(f"less dropout: try model.defaults.dropout: {max(0.0, defaults['dropout'] - 0.2):g}")
    if recurrent is not None:
        j, layer = recurrent
        steps += [f"less dropout: try model.layers.{j}.{key}: {max(0.0, layer[key] - 0.2):g}"
                  for key in ("dropout", "recurrent_dropout") if layer.get(key)]
    optimizer = mapping(training.get("optimizer"))
    if optimizer.get("name") != "adam":
        steps.append("a better optimizer: try training.optimizer.name: adam")
    other = ("conv2d layers with data.shape for image data" if recurrent is None else
             f"gru or lstm in place of model.layers.{recurrent[0]} (gates carry a state further than simple_rnn)"
             if recurrent[1].get("type") == "simple_rnn" else
             "a second recurrent layer (return_sequences: true on the first), or a conv1d before it")
    steps.append(f"another architecture: {other}; a sweep over "
                 "training.optimizer.learning_rate: {log_uniform: [1.0e-4, 1.0e-1]}")
    return steps


def _variance_steps(config: dict) -> list[str]:
    model, training, data = mapping(config.get("model")), mapping(config.get("training")), mapping(config.get("data"))
    defaults = mapping(model.get("defaults"))
    dropout, l2 = defaults.get("dropout") or 0.0, defaults.get("l2") or 0.0
    steps = ["more data: " + ("try data.subsample: null (the whole train part)" if data.get("subsample")
                              else "collect more samples, or augment image data")]
    recurrent = _recurrent(config)
    if recurrent is not None:  # its own dropout: model.defaults do not reach a recurrent layer
        j, layer = recurrent
        steps.append("stronger regularization: try " + " or ".join(
            f"model.layers.{j}.{key}: {min(0.5, layer[key] + 0.2) if layer.get(key) else 0.2:g}"
            for key in ("dropout", "recurrent_dropout")))
    if recurrent is None or any(isinstance(layer, dict) and layer.get("type") in ("dense", "conv1d", "conv2d")
                                for layer in model.get("layers") or []):
        stronger = min(0.5, dropout + 0.2) if dropout else 0.3
        steps.append(f"stronger regularization: try model.defaults.dropout: {stronger:g} or model.defaults.l2: "
                     f"{l2 * 10 if l2 else 1e-4:g}")
    if training.get("early_stopping") is None:
        steps.append("add training.early_stopping: {monitor: val_loss, patience: 5}")
    i, units = _first_units(config)
    if units and units >= 8:
        steps.append(f"a smaller network: try model.layers.{i}.units: {units // 2}")
    return steps


def _curve_notes(row: Row, config: dict) -> list[str]:
    """Where val loss bottomed out against where training stopped."""
    best, ran = row.mean("best_epoch"), row.mean("epochs_run")
    if best is None or ran is None:
        return []
    training = mapping(config.get("training"))
    stopping = training.get("early_stopping")
    patience = mapping(stopping).get("patience") if stopping else None
    early = [bool(run.metrics and run.metrics.early_stopped) for run in row.members]
    notes = [f"val loss bottomed out at epoch {best:.0f}; training ran {ran:.0f} epochs"
             + (f" (early stopping, patience {patience})" if any(early) else "")]
    if any(early):
        if best <= 2:
            notes.append("early stopping triggered very early: the learning rate may be too high, or try a larger "
                         "patience")
        else:
            notes.append("early stopping worked: the restored weights are those of the best epoch")
    elif best >= ran - 1:
        notes.append(f"still improving at the last epoch: train longer (training.epochs: {int(ran) * 2})")
    elif best < 0.7 * ran:
        notes.append(f"{ran - best:.0f} epochs after the best one only overfit: add training.early_stopping: "
                     f"{{patience: 5}} (restores the best weights) or set training.epochs: {int(best) + 5}")
    return notes


# ---------------------------------------------------------------------------------- learning curve
@dataclass
class CurvePoint:
    fraction: float
    samples: int
    train: float
    dev: float
    run: str


@dataclass
class LearningCurve:
    metric: str
    bayes_error: float
    threshold: float
    points: list[CurvePoint]
    verdict: str
    plot: str | None

    def to_json(self) -> dict:
        return asdict(self)


def parse_fractions(text: str) -> list[float]:
    """--fractions 0.1,0.25,0.5,1.0 -> sorted fractions of the train part, each in (0, 1]."""
    try:
        steps = sorted(float(f) for f in text.split(","))
    except ValueError:
        raise UserError(f"--fractions {text}: expected comma-separated numbers, e.g. 0.1,0.25,0.5,1.0") from None
    if not steps or steps[0] <= 0 or steps[-1] > 1:
        raise UserError(f"--fractions {text}: each fraction must be in (0, 1]")
    return steps


def learning_curve(loaded, overrides: list[str], runs_dir: Path, fractions: list[float], *, bayes: float | None = None,
                   threshold: float | None = None, plot: Path | None = None, console=None) -> LearningCurve:
    """Train the spec on growing fractions of its train part and read the curve (bias or variance?)."""
    from regexp.spec import load_spec
    from regexp.trial.train import train

    points = []
    metric = regression = None
    for fraction in fractions:
        trial = load_spec(loaded.file, [*overrides, f"data.subsample={fraction}", "repeat=1", "cv=null", "search=null"])
        run = train(trial, runs_dir, console=None)
        metrics = RunMetrics.model_validate_json((run / "metrics.json").read_text())
        metric, regression = error_metric(metrics.task, next(m for m in metrics.directions if m != "loss"))
        def error(part: str) -> float:
            value = metrics.part(part)[metric]
            return value if regression else 1 - value
        points.append(CurvePoint(fraction, metrics.sizes.train, error("train"), error("val"), run.name))
        if console is not None:
            console.print(f"  {fraction:>5.0%} of the train part ({metrics.sizes.train} samples): "
                          f"train error {error('train'):.4f}, dev error {error('val'):.4f}", highlight=False)
    bayes = bayes if bayes is not None else (loaded.spec.evaluation.bayes_error or 0.0)
    threshold = threshold or (DEFAULT_REGRESSION_FRACTION * points[-1].dev if regression
                              else DEFAULT_CLASSIFICATION_THRESHOLD)
    if plot is not None:
        plot_curve(points, bayes, plot, metric)
    return LearningCurve(metric, bayes, threshold, points, read_curve(points, bayes, threshold),
                         None if plot is None else str(plot))


def read_curve(points: list[CurvePoint], bayes: float, threshold: float) -> str:
    """The verdict of a learning curve, from its largest sizes."""
    last, before = points[-1], points[-2] if len(points) > 1 else points[-1]
    gap = last.dev - last.train
    still_falling = before.dev - last.dev > threshold / 2
    if last.train - bayes > threshold and gap <= threshold:
        return ("high bias: train and dev error converge on a high plateau; more data will not help, a bigger "
                "network or longer training will")
    if gap > threshold and still_falling:
        return "high variance: a wide gap that is still closing; more data will help (so will regularization)"
    if gap > threshold:
        return "high variance: a wide gap that has stopped closing; regularize more rather than only adding data"
    return "fine: train and dev error meet near the best achievable error"


def plot_curve(points: list[CurvePoint], bayes: float, path: Path, metric: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = [p.samples for p in points]
    ax.plot(sizes, [p.train for p in points], "o-", label="train error")
    ax.plot(sizes, [p.dev for p in points], "o--", label="dev error")
    ax.axhline(bayes, color="gray", linestyle=":", label=f"best achievable {bayes:g}")
    ax.set_xlabel("training samples")
    ax.set_ylabel("1 - accuracy" if metric == "accuracy" else metric)
    ax.set_title("learning curve")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)

"""The experiment spec as pydantic models: keys, defaults, ranges and help text, written once.

Validation, the JSON Schema (`regexp schema`), the resolved `config.yaml` of a run and the
cross-field checks (checks.py) all derive from these models; the `training` section lives in
training.py. Key names and meanings are the user-facing contract (docs/spec.md is generated from
them). No TensorFlow here: `validate` and `schema` must start fast.
"""

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, Field, field_validator, model_validator

from regexp.registry.datasets import DATASETS, downloaded
from regexp.registry.metrics import canonical
from regexp.spec.layers import ACTIVATIONS, INITIALIZERS, SPATIAL, WEIGHTED, Defaults, Dense, Initializer, Layer
from regexp.spec.parts import NonNegative, OneOf, Part, Rate
from regexp.spec.sequences import Text, Window
from regexp.spec.slurm import Slurm
from regexp.spec.training import Training

# layers.py holds the layer models; these of its names are imported from here by the rest of regexp
__all__ = ["ACTIVATIONS", "INITIALIZERS", "SPATIAL", "WEIGHTED", "Defaults", "Spec"]


# ---------------------------------------------------------------------------------------- data
class Split(Part):
    train: float = Field(0.6, gt=0.0, le=1.0, description="Fraction of the samples used to fit the weights.")
    val: float = Field(0.2, ge=0.0, lt=1.0, description="Fraction for validation (model selection, early stopping).")
    test: float = Field(0.2, ge=0.0, lt=1.0, description="Fraction held out for the final, unbiased estimate.")
    stratify: bool = Field(True, description="Keep the class proportions in every part (classification only).")

    @model_validator(mode="after")
    def _sums_to_one(self):
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must be 1 (got {self.train} + {self.val} + {self.test} = {total:g})")
        return self


class Data(Part):
    dataset: Optional[Literal[tuple(DATASETS)]] = Field(
        None, description="A built-in dataset (offline: scikit-learn's bundled copies and generators; "
        f"{'/'.join(downloaded())} need the file in the Keras cache).")
    path: Optional[str] = Field(
        None, description="Instead of dataset: a .csv/.parquet/.npz file or a folder of images with one "
        "sub-folder per class; relative to the spec file.")
    val_path: Optional[str] = Field(
        None, description="Validation samples from their own file (same format and columns as path): the dev set from "
                          "the target distribution while train may come from elsewhere. Then data.path is split into "
                          "train and test "
        "only, in the proportions of split.train and split.test.")
    test_path: Optional[str] = Field(
        None, description="Test samples from their own file; data.path is then split into train and val only. With "
                          "both val_path and test_path, all of data.path is train.")
    target: Optional[str] = Field(None, description="Label column of a csv/parquet file (default: the last column).")
    categorical: Union[Literal["auto"], list[str]] = Field(
        "auto", description="csv/parquet feature columns that are categories: auto (every column with a non-number "
                            "in it), or these names (integer-coded columns too). Encoded inside the model from the "
                            "train part's vocabulary, with an out-of-vocabulary code for the rest.")
    na_values: list[str] = Field(
        default_factory=list, description="More cell texts that mean missing in a csv/parquet file, e.g. ['?'] (the "
                                          "UCI convention). R's and pandas' markers are always missing: empty, NA, "
                                          "N/A, NaN, NULL, null, #N/A and their variants; None is not (a real class in "
                                          "many tables): validate warns when a kept value looks like a marker.")
    columns: Optional[list[str]] = Field(
        None, description="The feature columns to use, by name (default: every column but the target and a leading "
                          "unnamed row index).")
    drop: list[str] = Field(default_factory=list, description="Feature columns to leave out, by name (an ID, a leak).")
    sep: Union[Literal["auto"], Annotated[str, Field(min_length=1, max_length=1)]] = Field(
        "auto", description="The csv separator: auto (sniffed among , ; tab and |, comma when unsure) or the "
                            "character, e.g. ';' or '\\t'.")
    max_onehot: int = Field(32, ge=2, le=100_000, description="A categorical column with more values than this is "
                                                              "embedded (Keras Embedding) instead of one-hot encoded.")
    missing: Literal["error", "mean", "median", "indicator"] = Field(
        "error", description="An empty feature cell: error (the row and column named), or filled inside the model "
                             "with the train part's mean or median; indicator fills the mean and adds a was-missing "
                             "column. A missing label is always an error.")
    split: Split = Field(default_factory=Split, description="Stratified train/val/test fractions.")
    scale: Literal["standard", "minmax", "none"] = Field(
        "standard", description="Feature scaling with statistics of the train part only, baked into the model.")
    shape: Optional[list[Annotated[int, Field(ge=1)]]] = Field(
        None, description="Reshape each sample's flat features, e.g. [8, 8, 1] to feed conv layers.")
    subsample: Optional[Union[Annotated[int, Field(ge=1)], Annotated[float, Field(gt=0.0, le=1.0)]]] = Field(
        None, description="Keep this fraction (0-1] or count of the train part (learning curves).")
    samples: Optional[int] = Field(None, ge=10, description="Synthetic datasets: number of samples (default 1000).")
    features: Optional[int] = Field(None, ge=1, description="classification/regression: number of features (default "
                                                            "20).")
    classes: Optional[int] = Field(None, ge=2, description="classification, noisy_sequence: number of classes (default "
                                                            "2); token_recall: tokens to recall (default 8).")
    noise: Optional[float] = Field(None, ge=0.0, description="Synthetic datasets: noise level (moons/circles 0.1, "
                                                             "regression 10, noisy_sequence 1).")
    length: Optional[int] = Field(None, ge=2, description="Generated sequence tasks: time steps per sample (default "
                                                          "20).")
    window: Optional[Window] = Field(None, description="A csv time series as windows of consecutive rows (for "
                                                       "sequence layers); the parts are cut in time order with a gap, "
                                                       "so no window shares a row with another part's.")
    text: Optional[Text] = Field(None, description="Text as token ids (a csv column, or a folder of .txt files with "
                                                   "one sub-folder per class); needs an embedding layer first.")
    image_size: Optional[list[Annotated[int, Field(ge=1)]]] = Field(
        None, min_length=2, max_length=2, description="Image folders: resize every image to [height, width].")


# --------------------------------------------------------------------------------------- model
class Output(Part):
    initializer: Initializer = Field("glorot_uniform", description="Kernel initializer of the output layer.")
    l1: NonNegative = Field(0.0, description="Kernel L1 factor of the output layer.")
    l2: NonNegative = Field(0.0, description="Kernel L2 factor of the output layer.")
    bias_l1: NonNegative = Field(0.0, description="Bias L1 factor of the output layer.")
    bias_l2: NonNegative = Field(0.0, description="Bias L2 factor of the output layer (some course notes penalize "
                                                  "every b, output included).")


class Model(Part):
    task: Literal["auto", "classification", "binary", "regression"] = Field(
        "auto", description="auto: integer/string labels are classification (binary with 2 classes), floats "
                            "regression.")
    input_dropout: Rate = Field(0.0, description="Dropout on the inputs.")
    input_noise: NonNegative = Field(0.0, description="Stddev of Gaussian noise added to the (scaled) inputs, training "
                                                      "only.")
    defaults: Defaults = Field(default_factory=Defaults, description="Applied to every hidden layer unless the layer "
                                                                     "says otherwise.")
    layers: list[Layer] = Field(
        default_factory=lambda: [Dense(type="dense", units=50)], description="Hidden layers, in order.")
    output: Output = Field(default_factory=Output, description="The output layer; units, activation and loss follow "
                                                               "the task.")

    def resolved_layers(self) -> list[BaseModel]:
        """Hidden layers with every unset option filled from `defaults`."""
        out = []
        for layer in self.layers:
            if isinstance(layer, WEIGHTED):
                filled = {k: v if v is not None else getattr(self.defaults, k)
                          for k, v in layer.model_dump().items() if k in Defaults.model_fields}
                layer = layer.model_copy(update=filled)
            out.append(layer)
        return out


class Evaluation(Part):
    mc_dropout: int = Field(0, ge=0, le=1000, description="> 0: also report test metrics averaged over this many "
                                                          "passes with dropout on.")
    bayes_error: Optional[float] = Field(
        None, ge=0.0, description="Best achievable error (e.g. human level), used by `regexp diagnose` for avoidable "
                                  "bias.")


# ------------------------------------------------------------------------------ repeat / cv / search
class CrossValidation(Part):
    folds: int = Field(5, ge=2, le=100, description="k of k-fold cross-validation over the train+val parts.")
    stratify: bool = Field(True, description="Keep class proportions in every fold (classification only).")
    fold: Optional[int] = Field(None, ge=0, description="Run only this fold (the planner sets it per trial; null: all "
                                                        "folds).")


class Distribution(OneOf):
    """One of: uniform, log_uniform, int_uniform, log_uniform_1m, each [low, high]."""

    uniform: Optional[list[float]] = Field(None, min_length=2, max_length=2, description="Uniform on [low, high].")
    log_uniform: Optional[list[Annotated[float, Field(gt=0)]]] = Field(
        None, min_length=2, max_length=2, description="Uniform in log space: for learning rates and penalties.")
    int_uniform: Optional[list[int]] = Field(None, min_length=2, max_length=2, description="An integer in [low, high].")
    log_uniform_1m: Optional[list[Annotated[float, Field(gt=0, lt=1)]]] = Field(
        None, min_length=2, max_length=2, description="1 - x with x log-uniform: for momentum/beta near 1 (e.g. [0.9, "
                                                      "0.999]).")

    @model_validator(mode="after")
    def _low_below_high(self):
        low, high = getattr(self, self.kind)
        if not low < high:
            raise ValueError(f"{self.kind}: low must be below high (got [{low}, {high}])")
        return self

    @property
    def bounds(self) -> tuple[float, float]:
        return tuple(getattr(self, self.kind))


class Refine(Part):
    rounds: int = Field(2, ge=2, le=10, description="Rounds in all, the first one included.")
    keep: int = Field(3, ge=1, description="Best points kept after each round.")
    shrink: float = Field(0.5, gt=0.0, lt=1.0, description="Each range shrinks to this fraction around a kept point.")


class Halving(Part):
    """Successive halving over epochs (regexp/sweep/halving.py): at each rung a point goes on only
    if its mean objective over its seeds is in the best 1/eta of the points that reached the rung."""

    eta: int = Field(3, ge=2, le=10, description="Keep the best 1/eta of the points at each rung; rungs are eta "
                                                 "times apart (min_epochs, min_epochs·eta, ... below training.epochs).")
    min_epochs: int = Field(2, ge=1, description="The first rung: epochs every point trains before the first "
                                                 "decision.")


class Objective(Part):
    metric: str = Field("val_loss", description="What ranks the points: loss or a tracked metric, of train_/val_/test_ "
                                                "(val_ for decisions).")

    _alias = field_validator("metric", mode="before")(lambda value: canonical(value))
    mode: Optional[Literal["min", "max"]] = Field(None, description="min or max (default: from the metric: losses min, "
                                                                    "accuracy max).")


class Confirm(Part):
    """After the search, race its `top` best points on fresh seeds until the best is decided (sweep/confirm.py)."""

    top: int = Field(3, ge=2, le=20, description="How many of the search's best points race.")
    metric: str = Field("test_accuracy", description="What the race is about: a val_ or test_ column.")
    _alias = field_validator("metric", mode="before")(lambda value: canonical(value))
    margin: float = Field(gt=0.0, description="Points within ±margin of the leader are tied (the metric's units).")
    alpha: float = Field(0.05, gt=0.0, le=0.2, description="The chance of naming a point that is not within the "
                                                          "margin of the truly best, over all looks.")
    batch: int = Field(5, ge=2, le=100, description="Fresh seeds added per look to every point still racing.")
    max_seeds: int = Field(40, ge=2, le=1000, description="The budget of fresh seeds per point.")


class Search(Part):
    method: Literal["grid", "random", "tpe"] = Field(
        "grid", description="grid: every combination of the lists; random: `trials` sampled points; tpe: `trials` "
                            "points from Optuna's TPE sampler, `batch` at a time (pip install 'regexp[search]').")
    trials: int = Field(20, ge=1, le=10_000, description="random: points per round; tpe: points in all.")
    batch: int = Field(8, ge=1, le=1_000, description="tpe: points asked at once; a batch trains (as packs) and is "
                                                      "told before the next is asked.")
    seed: Optional[int] = Field(None, ge=0, description="Seed of the random sampling (default: the spec's seed).")
    params: dict[str, Union[list[Any], Distribution]] = Field(
        description="Dotted path -> a list of values (grid or random choice) or a distribution (random only).")
    refine: Optional[Refine] = Field(None,
                                     description="Coarse to fine: random rounds shrinking around the best points.")
    objective: Objective = Field(default_factory=Objective, description="The metric that ranks points.")
    halving: Optional[Halving] = Field(None, description="Stop the worse points early, at rungs over epochs (status "
                                                         "`pruned`); ASHA-style when trials run asynchronously.")
    confirm: Optional[Confirm] = Field(None, description="Race the best points on fresh seeds until the best is "
                                                         "decided.")


class Decide(Part):
    """Sequential decisions on a grid (regexp/sweep/decide.py): seeds in batches until each arm is
    better, worse or equivalent to the baseline, with anytime-valid confidence sequences."""

    baseline: str = Field(description="The grid point the arms are compared with, as KEY=VALUE joined by commas "
                                      "(model.defaults.dropout=0.0,model.defaults.l2=1.0e-3; short names as in the "
                                      "report's params column).")
    metric: str = Field("test_accuracy", description="What the decision is about: a val_ or test_ column.")
    _alias = field_validator("metric", mode="before")(lambda value: canonical(value))
    margin: float = Field(gt=0.0, description="Differences within ±margin count as equivalent (the metric's units).")
    alpha: float = Field(0.05, gt=0.0, le=0.2, description="The chance of any wrong decision, over all arms and "
                                                          "looks.")
    batch: int = Field(5, ge=2, le=100, description="Seeds added per look to every undecided arm (and the baseline).")
    max_seeds: int = Field(40, ge=2, le=1000, description="The budget of seeds per arm.")


class Logging(Part):
    layer_stats: bool = Field(False, description="Per epoch and weighted layer: weight norm, fraction of |w| below "
                              "sparsity_threshold, gradient norm, activation mean/std, BN moving mean/variance "
                              "(layer_stats.csv; one extra forward/backward pass on a fixed batch per epoch).")
    sparsity_threshold: float = Field(1e-3, gt=0.0, description="|w| below this counts as zero in layer_stats' "
                                                                "sparsity.")
    per_step: bool = Field(False, description="The loss of every mini-batch (steps.csv): the noisy curve of mini-batch "
                           "descent. Runs one step per call into TensorFlow, so small models train slower.")
    tensorboard: bool = Field(False, description="Also write the run's numbers as TensorBoard event files in "
                              "<run>/tensorboard/ with an HParams summary (pip install 'regexp[tensorboard]').")


# ---------------------------------------------------------------------------------------- spec
class Spec(Part):
    name: str = Field(pattern=r"^[A-Za-z0-9._-]+$", min_length=1, max_length=64,
                      description="Names the run folders: letters, digits, '.', '_' and '-', at most 64.")
    description: str = Field("", description="Free text.")
    tags: list[str] = Field(default_factory=list, description="Labels for filtering in reports.")
    seed: int = Field(0, ge=0, description="Drives the split, initialization, dropout masks and shuffling.")
    extends: Optional[str] = Field(None, description="A base spec (path relative to this file), deep-merged; this file "
                                                     "wins.")
    data: Data = Field(description="Where the samples come from and how they are split and scaled.")
    model: Model = Field(default_factory=Model, description="The network.")
    training: Training = Field(default_factory=Training, description="How the weights are fitted.")
    evaluation: Evaluation = Field(default_factory=Evaluation, description="What is measured after training.")
    repeat: Union[Annotated[int, Field(ge=1, le=1000)],
                  Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]] = Field(
        1, description="Run with this many seeds (seed, seed+1, ...) or with this list of seeds.")
    cv: Optional[CrossValidation] = Field(None, description="k-fold cross-validation over train+val; test stays held "
                                                            "out.")
    search: Optional[Search] = Field(None, description="Hyperparameter search, run by `regexp sweep`.")
    decide: Optional[Decide] = Field(None, description="Sequential decisions on a grid search: seeds until each arm "
                                                       "is decided (`regexp sweep`).")
    logging: Logging = Field(default_factory=Logging, description="Opt-in records of what happens inside training.")
    slurm: Slurm = Field(default_factory=Slurm, description="Where `regexp sweep --executor slurm` runs each task: "
                                                            "sbatch's options (not part of any run's config).")

    def seeds(self) -> list[int]:
        return list(self.repeat) if isinstance(self.repeat, list) else [self.seed + i for i in range(self.repeat)]

    def reads_files(self) -> bool:
        """Its data, or a search point's, comes from files whose columns `validate` can check."""
        data = self.data
        searched = self.search is not None and any(key.startswith("data.") for key in self.search.params)
        return searched or any(p is not None for p in (data.path, data.val_path, data.test_path))

"""The experiment spec as pydantic models: keys, defaults, ranges and help text, written once.

Validation, the JSON Schema (`regexp schema`), the resolved `config.yaml` of a run and the
cross-field checks below all derive from these models. Key names and meanings follow SPEC.md.
No TensorFlow here: `validate` and `schema` must start fast.
"""

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_serializer, model_validator

from regexp.metrics import METRICS

# Names Keras resolves with keras.activations.get / keras.initializers.get; a test keeps these
# lists in sync with the installed Keras so that a typo is caught before TensorFlow loads.
ACTIVATIONS = (
    "relu", "elu", "selu", "gelu", "tanh", "sigmoid", "softplus", "softsign", "swish", "silu",
    "mish", "leaky_relu", "relu6", "celu", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
    "exponential", "linear", "log_sigmoid", "squareplus", "sparse_plus", "tanh_shrink",
)
INITIALIZERS = (
    "glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal", "lecun_uniform",
    "orthogonal", "random_normal", "random_uniform", "truncated_normal", "variance_scaling",
    "zeros", "ones",
)
BUILTIN_DATASETS = ("digits", "breast_cancer", "wine", "iris", "moons", "circles",
                    "classification", "regression")
KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10")
SYNTHETIC_DATASETS = ("moons", "circles", "classification", "regression")
class Part(BaseModel):
    """A section of the spec: unknown keys are errors and values never change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Rate = Annotated[float, Field(ge=0.0, lt=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


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
    dataset: Optional[Literal[BUILTIN_DATASETS + KERAS_DATASETS]] = Field(
        None, description="A built-in dataset (offline: scikit-learn's bundled copies and generators; "
        "mnist/fashion_mnist/cifar10 need the file in the Keras cache).")
    path: Optional[str] = Field(
        None, description="Instead of dataset: a .csv/.parquet/.npz file or a folder of images with one "
        "sub-folder per class; relative to the spec file.")
    target: Optional[str] = Field(None, description="Label column of a csv/parquet file (default: the last column).")
    split: Split = Field(default_factory=Split, description="Stratified train/val/test fractions.")
    scale: Literal["standard", "minmax", "none"] = Field(
        "standard", description="Feature scaling with statistics of the train part only, baked into the model.")
    shape: Optional[list[Annotated[int, Field(ge=1)]]] = Field(
        None, description="Reshape each sample's flat features, e.g. [8, 8, 1] to feed conv layers.")
    subsample: Optional[Union[Annotated[int, Field(ge=1)], Annotated[float, Field(gt=0.0, le=1.0)]]] = Field(
        None, description="Keep this fraction (0-1] or count of the train part (learning curves).")
    samples: Optional[int] = Field(None, ge=10, description="Synthetic datasets: number of samples (default 1000).")
    features: Optional[int] = Field(None, ge=1, description="classification/regression: number of features (default 20).")
    classes: Optional[int] = Field(None, ge=2, description="classification: number of classes (default 2).")
    noise: Optional[float] = Field(None, ge=0.0, description="Synthetic datasets: noise level (moons/circles 0.1, regression 10).")
    image_size: Optional[list[Annotated[int, Field(ge=1)]]] = Field(
        None, min_length=2, max_length=2, description="Image folders: resize every image to [height, width].")


# --------------------------------------------------------------------------------------- model
class Defaults(Part):
    activation: Literal[ACTIVATIONS] = Field("relu", description="Keras activation of hidden layers.")
    initializer: Literal[INITIALIZERS] = Field("he_normal", description="Kernel initializer (Keras name).")
    l1: NonNegative = Field(0.0, description="Kernel L1 factor: adds l1 * sum(|w|) to the loss.")
    l2: NonNegative = Field(0.0, description="Kernel L2 factor: adds l2 * sum(w^2) to the loss (Keras convention, no 1/2).")
    bias_l1: NonNegative = Field(0.0, description="Bias L1 factor.")
    bias_l2: NonNegative = Field(0.0, description="Bias L2 factor.")
    max_norm: Optional[float] = Field(None, gt=0.0, description="Max-norm r: each unit's incoming weight vector is rescaled to norm <= r after every step.")
    batch_norm: Literal["none", "before", "after"] = Field("none", description="Batch normalization before or after the activation.")
    norm: Optional[Literal["layer", "group", "instance"]] = Field(None, description="Alternative normalization before the activation.")
    groups: int = Field(4, ge=1, description="Number of groups for norm: group (must divide the layer's units/filters).")
    dropout: Rate = Field(0.0, description="Dropout rate after the activation.")
    dropout_type: Literal["standard", "alpha", "gaussian", "spatial"] = Field(
        "standard", description="standard (inverted) | alpha (for SELU) | gaussian (multiplicative noise) | spatial (conv: whole feature maps).")
    weight_noise: NonNegative = Field(0.0, description="Stddev of Gaussian noise added to the kernel on every training step (never at inference).")


def _overridable(model: type[BaseModel], name: str) -> type[BaseModel]:
    """The same fields as `model`, each optional with None meaning 'take the default'."""
    fields: dict[str, Any] = {
        key: (Optional[Annotated[f.annotation, *f.metadata]] if f.metadata else Optional[f.annotation],
              Field(None, description=f"{f.description} Default: model.defaults.{key}."))
        for key, f in model.model_fields.items()
    }
    return create_model(name, __base__=Part, **fields)


LayerOverrides = _overridable(Defaults, "LayerOverrides")
IntOrPair = Union[Annotated[int, Field(ge=1)], Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=2, max_length=2)]]


class Dense(LayerOverrides):
    type: Literal["dense"]
    units: int = Field(ge=1, description="Number of units.")


class Conv2D(LayerOverrides):
    type: Literal["conv2d"]
    filters: int = Field(ge=1, description="Number of filters.")
    kernel_size: IntOrPair = Field(3, description="Kernel height/width.")
    strides: IntOrPair = Field(1, description="Stride.")
    padding: Literal["same", "valid"] = Field("same", description="same keeps the spatial size.")


class Pool(Part):
    type: Literal["max_pool", "avg_pool"]
    pool_size: IntOrPair = Field(2, description="Window size.")
    strides: Optional[IntOrPair] = Field(None, description="Stride (default: pool_size).")
    padding: Literal["same", "valid"] = Field("valid", description="Padding.")


class Flatten(Part):
    type: Literal["flatten"]


class GlobalAvgPool(Part):
    type: Literal["global_avg_pool"]


Layer = Annotated[Union[Dense, Conv2D, Pool, Flatten, GlobalAvgPool], Field(discriminator="type")]
WEIGHTED = (Dense, Conv2D)
SPATIAL = ("conv2d", "max_pool", "avg_pool")  # layer types that need image-shaped inputs


class Output(Part):
    initializer: Literal[INITIALIZERS] = Field("glorot_uniform", description="Kernel initializer of the output layer.")
    l1: NonNegative = Field(0.0, description="Kernel L1 factor of the output layer.")
    l2: NonNegative = Field(0.0, description="Kernel L2 factor of the output layer.")


class Model(Part):
    task: Literal["auto", "classification", "binary", "regression"] = Field(
        "auto", description="auto: integer/string labels are classification (binary with 2 classes), floats regression.")
    input_dropout: Rate = Field(0.0, description="Dropout on the inputs.")
    input_noise: NonNegative = Field(0.0, description="Stddev of Gaussian noise added to the (scaled) inputs, training only.")
    defaults: Defaults = Field(default_factory=Defaults, description="Applied to every hidden layer unless the layer says otherwise.")
    layers: list[Layer] = Field(
        default_factory=lambda: [Dense(type="dense", units=50)], description="Hidden layers, in order.")
    output: Output = Field(default_factory=Output, description="The output layer; units, activation and loss follow the task.")

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


# ------------------------------------------------------------------------------------ training
OPTIMIZER_PARAMS = {  # which keys of `optimizer` each optimizer reads
    "sgd": set(),
    "momentum": {"momentum"},
    "nesterov": {"momentum"},
    "rmsprop": {"rho"},
    "adam": {"beta_1", "beta_2"},
    "adamw": {"beta_1", "beta_2"},
    "nadam": {"beta_1", "beta_2"},
}
COMMON_OPTIMIZER_PARAMS = {"name", "learning_rate", "epsilon", "weight_decay", "clipnorm"}


class Optimizer(Part):
    name: Literal[tuple(OPTIMIZER_PARAMS)] = Field("adam", description="sgd | momentum | nesterov | rmsprop | adam | adamw | nadam.")
    learning_rate: float = Field(0.001, gt=0.0, description="Initial learning rate (a0 of the schedule).")
    momentum: Rate = Field(0.9, description="momentum/nesterov: the velocity's decay (beta).")
    beta_1: Rate = Field(0.9, description="Adam family: decay of the first-moment (mean) estimate.")
    beta_2: Rate = Field(0.999, description="Adam family: decay of the second-moment estimate.")
    rho: Rate = Field(0.9, description="RMSprop: decay of the squared-gradient average.")
    epsilon: float = Field(1.0e-7, gt=0.0, description="Added to the denominator for numerical stability.")
    weight_decay: Optional[float] = Field(None, ge=0.0, description="Decoupled weight decay (adamw default 0.004).")
    clipnorm: Optional[float] = Field(None, gt=0.0, description="Clip each gradient to this norm.")


class _Schedule(Part):
    unit: Literal["epoch", "step"] = Field("epoch", description="t counts epochs or optimizer steps.")


class Constant(_Schedule):
    name: Literal["constant"]


class Exponential(_Schedule):
    name: Literal["exponential"]
    decay_rate: float = Field(0.95, gt=0.0, le=1.0, description="r in a0 * r^(t / decay_every).")
    decay_every: int = Field(1, ge=1, description="Epochs/steps for one factor r.")


class InverseTime(_Schedule):
    name: Literal["inverse_time"]
    decay_rate: float = Field(1.0, ge=0.0, description="r in a0 / (1 + r * t).")


class InverseSqrt(_Schedule):
    name: Literal["inverse_sqrt"]
    k: float = Field(1.0, gt=0.0, description="k in a0 * k / sqrt(t + 1).")


class Step(_Schedule):
    name: Literal["step"]
    boundaries: list[Annotated[int, Field(ge=1)]] = Field(description="t at which the rate is multiplied by factor.")
    factor: float = Field(0.1, gt=0.0, le=1.0, description="Multiplier applied at every boundary (staircase).")


class Piecewise(_Schedule):
    name: Literal["piecewise"]
    boundaries: list[Annotated[int, Field(ge=1)]] = Field(description="t at which the next value starts.")
    values: list[Annotated[float, Field(gt=0.0)]] = Field(description="One more value than boundaries; replaces learning_rate.")


class Cosine(_Schedule):
    name: Literal["cosine"]
    warmup: int = Field(0, ge=0, description="Linear warm-up from 0 to a0 over this many epochs/steps.")
    alpha: float = Field(0.0, ge=0.0, le=1.0, description="Final rate as a fraction of a0.")
    decay_steps: Optional[int] = Field(None, ge=1, description="Length of the cosine after warm-up (default: the rest of training).")


class Plateau(_Schedule):
    name: Literal["plateau"]
    monitor: str = Field("val_loss", description="Metric watched (val_loss, val_accuracy, ...).")
    factor: float = Field(0.1, gt=0.0, lt=1.0, description="Multiply the rate by this when the metric stalls.")
    patience: int = Field(5, ge=0, description="Epochs without improvement before reducing.")
    min_lr: float = Field(0.0, ge=0.0, description="Lower bound of the rate.")


Schedule = Annotated[Union[Constant, Exponential, InverseTime, InverseSqrt, Step, Piecewise, Cosine, Plateau],
                     Field(discriminator="name")]


class Augment(Part):
    """One Keras random image layer; `augment` is a list of these, applied in order, in training only."""

    flip: Optional[Literal["horizontal", "vertical", "horizontal_and_vertical"]] = Field(
        None, description="RandomFlip (flipping a 6 can make a 9: label-changing transforms are your call).")
    rotate: Optional[float] = Field(None, gt=0.0, le=1.0, description="RandomRotation: up to this fraction of a full turn.")
    zoom: Optional[float] = Field(None, gt=0.0, lt=1.0, description="RandomZoom: zoom in or out by up to this fraction.")
    translate: Optional[float] = Field(None, gt=0.0, lt=1.0, description="RandomTranslation: shift by up to this fraction of the size.")
    crop: Optional[list[Annotated[int, Field(ge=1)]]] = Field(
        None, min_length=2, max_length=2, description="RandomCrop to [height, width] (a center crop at inference).")
    contrast: Optional[float] = Field(None, gt=0.0, le=1.0, description="RandomContrast factor.")
    brightness: Optional[float] = Field(None, gt=0.0, le=1.0, description="RandomBrightness factor.")

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"each augment item is one of {', '.join(type(self).model_fields)} (got {', '.join(given) or 'none'})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in type(self).model_fields if getattr(self, k) is not None)

    @model_serializer
    def _only_the_given_key(self) -> dict[str, Any]:  # resolved configs read {rotate: 0.1}, not 7 keys
        return {self.kind: getattr(self, self.kind)}


class Mixup(Part):
    alpha: float = Field(0.2, gt=0.0, description="λ ~ Beta(alpha, alpha); small alpha mixes little.")


class CutMix(Part):
    alpha: float = Field(1.0, gt=0.0, le=1.0, description="The pasted area follows Beta(alpha, alpha); 1 = uniform, as in the "
                                                          "CutMix paper (Keras's CutMix takes alpha <= 1).")


class Cutout(Part):
    size: float = Field(0.25, gt=0.0, lt=1.0, description="Side of the erased square as a fraction of the image side.")


class EarlyStopping(Part):
    monitor: str = Field("val_loss", description="Metric watched; its direction (min/max) follows its name.")
    patience: int = Field(5, ge=0, description="Epochs without improvement before stopping.")
    min_delta: NonNegative = Field(0.0, description="Smallest change that counts as an improvement.")
    restore_best_weights: bool = Field(True, description="Keep the weights of the best epoch, not the last.")


class Training(Part):
    epochs: int = Field(100, ge=1, description="Maximum number of epochs.")
    batch_size: Union[Annotated[int, Field(ge=1)], Literal["full"]] = Field(
        32, description="Mini-batch size, or `full` for batch gradient descent.")
    optimizer: Optimizer = Field(default_factory=Optimizer, description="The optimizer and its parameters.")
    lr_schedule: Optional[Schedule] = Field(None, description="Learning-rate decay (a name alone, e.g. `cosine`, takes its defaults).")
    early_stopping: Optional[EarlyStopping] = Field(None, description="Stop when the monitored metric stops improving (an integer is a patience).")
    label_smoothing: Rate = Field(0.0, description="Classification: mix one-hot targets with the uniform distribution.")
    mixup: Optional[Mixup] = Field(None, description="Mix pairs of training samples and their labels (any data).")
    cutmix: Optional[CutMix] = Field(None, description="Paste a patch of another training image, labels mixed by area (images).")
    cutout: Optional[Cutout] = Field(None, description="Erase a random square of each training image to 0 (images).")
    augment: list[Augment] = Field(default_factory=list, description="Keras random image layers in order, training only (images).")
    metrics: Optional[list[Literal[tuple(METRICS)]]] = Field(
        None, description="Metrics to track; default [accuracy] for classification, [mae] for regression.")
    distribute: Literal["none", "mirrored", "multi_worker"] = Field(
        "none", description="tf.distribute strategy: mirrored (the GPUs of this machine, else its logical CPUs) | "
                            "multi_worker (machines named by TF_CONFIG; Keras 3 cannot fit across 2+ workers yet, "
                            "keras-team/keras#20585). batch_size stays the global batch.")
    steps_per_execution: Union[Literal["epoch"], Annotated[int, Field(ge=1)]] = Field(
        "epoch", description="Training steps per call into TensorFlow; `epoch` runs a whole epoch per call (same "
                             "results, far less Python overhead for small models).")

    @field_validator("lr_schedule", mode="before")
    @classmethod
    def _schedule_shorthand(cls, value):
        return {"name": value} if isinstance(value, str) else value

    @field_validator("early_stopping", mode="before")
    @classmethod
    def _patience_shorthand(cls, value):
        return {"patience": value} if isinstance(value, int) and not isinstance(value, bool) else value


class Evaluation(Part):
    mc_dropout: int = Field(0, ge=0, le=1000, description="> 0: also report test metrics averaged over this many passes with dropout on.")
    bayes_error: Optional[float] = Field(
        None, ge=0.0, description="Best achievable error (e.g. human level), used by `regexp diagnose` for avoidable bias.")


# ------------------------------------------------------------------------------ repeat / cv / search
class CrossValidation(Part):
    folds: int = Field(5, ge=2, le=100, description="k of k-fold cross-validation over the train+val parts.")
    stratify: bool = Field(True, description="Keep class proportions in every fold (classification only).")
    fold: Optional[int] = Field(None, ge=0, description="Run only this fold (the planner sets it per trial; null: all folds).")


class Distribution(Part):
    """One of: uniform, log_uniform, int_uniform, log_uniform_1m, each [low, high]."""

    uniform: Optional[list[float]] = Field(None, min_length=2, max_length=2, description="Uniform on [low, high].")
    log_uniform: Optional[list[Annotated[float, Field(gt=0)]]] = Field(
        None, min_length=2, max_length=2, description="Uniform in log space: for learning rates and penalties.")
    int_uniform: Optional[list[int]] = Field(None, min_length=2, max_length=2, description="An integer in [low, high].")
    log_uniform_1m: Optional[list[Annotated[float, Field(gt=0, lt=1)]]] = Field(
        None, min_length=2, max_length=2, description="1 - x with x log-uniform: for momentum/beta near 1 (e.g. [0.9, 0.999]).")

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(type(self).model_fields)} (got {', '.join(given) or 'none'})")
        low, high = getattr(self, given[0])
        if not low < high:
            raise ValueError(f"{given[0]}: low must be below high (got [{low}, {high}])")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in type(self).model_fields if getattr(self, k) is not None)

    @model_serializer
    def _only_the_given_key(self) -> dict[str, Any]:  # resolved configs read {rotate: 0.1}, not 7 keys
        return {self.kind: getattr(self, self.kind)}

    @property
    def bounds(self) -> tuple[float, float]:
        return tuple(getattr(self, self.kind))


class Refine(Part):
    rounds: int = Field(2, ge=2, le=10, description="Rounds in all, the first one included.")
    keep: int = Field(3, ge=1, description="Best points kept after each round.")
    shrink: float = Field(0.5, gt=0.0, lt=1.0, description="Each range shrinks to this fraction around a kept point.")


class Objective(Part):
    metric: str = Field("val_loss", description="What ranks the points: loss or a tracked metric, of train_/val_/test_ (val_ for decisions).")
    mode: Optional[Literal["min", "max"]] = Field(None, description="min or max (default: from the metric: losses min, accuracy max).")


class Search(Part):
    method: Literal["grid", "random"] = Field("grid", description="grid: every combination of the lists; random: `trials` sampled points.")
    trials: int = Field(20, ge=1, le=10_000, description="random: points per round.")
    seed: Optional[int] = Field(None, ge=0, description="Seed of the random sampling (default: the spec's seed).")
    params: dict[str, Union[list[Any], Distribution]] = Field(
        description="Dotted path -> a list of values (grid or random choice) or a distribution (random only).")
    refine: Optional[Refine] = Field(None, description="Coarse to fine: random rounds shrinking around the best points.")
    objective: Objective = Field(default_factory=Objective, description="The metric that ranks points.")


# ---------------------------------------------------------------------------------------- spec
class Spec(Part):
    name: str = Field(pattern=r"^[A-Za-z0-9._-]+$", min_length=1, max_length=64,
                      description="Names the run folders: letters, digits, '.', '_' and '-', at most 64.")
    description: str = Field("", description="Free text.")
    tags: list[str] = Field(default_factory=list, description="Labels for filtering in reports.")
    seed: int = Field(0, ge=0, description="Drives the split, initialization, dropout masks and shuffling.")
    extends: Optional[str] = Field(None, description="A base spec (path relative to this file), deep-merged; this file wins.")
    data: Data = Field(description="Where the samples come from and how they are split and scaled.")
    model: Model = Field(default_factory=Model, description="The network.")
    training: Training = Field(default_factory=Training, description="How the weights are fitted.")
    evaluation: Evaluation = Field(default_factory=Evaluation, description="What is measured after training.")
    repeat: Union[Annotated[int, Field(ge=1, le=1000)], Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]] = Field(
        1, description="Run with this many seeds (seed, seed+1, ...) or with this list of seeds.")
    cv: Optional[CrossValidation] = Field(None, description="k-fold cross-validation over train+val; test stays held out.")
    search: Optional[Search] = Field(None, description="Hyperparameter search, run by `regexp sweep`.")

    def seeds(self) -> list[int]:
        return list(self.repeat) if isinstance(self.repeat, list) else [self.seed + i for i in range(self.repeat)]


def cross_checks(spec: Spec) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Rules that span several keys: returns (errors, warnings) as (dotted key, message) pairs."""
    errors: list[tuple[str, str]] = []
    warnings: list[tuple[str, str]] = []
    data, model, training = spec.data, spec.model, spec.training

    if (data.dataset is None) == (data.path is None):
        errors.append(("data", "give exactly one of data.dataset or data.path"))
    synthetic_keys = {"samples": SYNTHETIC_DATASETS, "noise": SYNTHETIC_DATASETS,
                      "features": ("classification", "regression"), "classes": ("classification",)}
    for key, allowed in synthetic_keys.items():
        if getattr(data, key) is not None and data.dataset not in allowed:
            errors.append((f"data.{key}", f"applies only to data.dataset {' | '.join(allowed)} (got dataset {data.dataset})"))

    seen_spatial = False  # after a conv/pool layer the tensor is 4-D until flatten/global pool
    for i, layer in enumerate(model.resolved_layers()):
        where = f"model.layers.{i}"
        if layer.type in SPATIAL:
            seen_spatial = True
        elif layer.type in ("flatten", "global_avg_pool"):
            seen_spatial = False
        elif layer.type == "dense" and seen_spatial:
            errors.append((where, "a dense layer after conv2d/pooling needs a {type: flatten} or "
                                  "{type: global_avg_pool} layer before it"))
        if layer.type == "dense" and layer.dropout_type == "spatial" and layer.dropout > 0:
            errors.append((f"{where}.dropout_type", "spatial dropout drops whole feature maps: conv2d layers only "
                                                    "(allowed for dense: standard | alpha | gaussian)"))
        if isinstance(layer, WEIGHTED) and layer.batch_norm != "none" and layer.norm is not None:
            errors.append((f"{where}.norm", f"choose one normalization (got batch_norm: {layer.batch_norm} and norm: {layer.norm})"))
        if isinstance(layer, WEIGHTED) and layer.norm == "group":
            width = layer.units if layer.type == "dense" else layer.filters
            if width % layer.groups:
                errors.append((f"{where}.groups", f"groups must divide the layer's {width} units/filters (got {layer.groups})"))

    monitors = []
    if training.early_stopping is not None:
        monitors.append(("training.early_stopping.monitor", training.early_stopping.monitor))
    schedule = training.lr_schedule
    if schedule is not None and schedule.name == "plateau":
        monitors.append(("training.lr_schedule.monitor", schedule.monitor))
        if schedule.unit == "step":
            errors.append(("training.lr_schedule.unit", "plateau reacts to epoch metrics: use unit: epoch"))
    if schedule is not None and schedule.name == "piecewise" and len(schedule.values) != len(schedule.boundaries) + 1:
        errors.append(("training.lr_schedule.values", f"needs one more value than boundaries "
                                                      f"(got {len(schedule.values)} values, {len(schedule.boundaries)} boundaries)"))
    if schedule is not None and schedule.name in ("step", "piecewise") and schedule.boundaries != sorted(set(schedule.boundaries)):
        errors.append(("training.lr_schedule.boundaries", f"must be strictly increasing (got {schedule.boundaries})"))
    for key, monitor in monitors:
        if monitor.startswith("val_") and data.split.val == 0:
            errors.append((key, f"{monitor} needs a validation part but data.split.val is 0"))
        base = monitor.removeprefix("val_")
        if base != "loss" and base not in METRICS:
            errors.append((key, f"unknown metric {monitor!r} (allowed: loss, val_loss, or a metric of training.metrics with or without val_)"))
        elif base != "loss" and base not in (training.metrics or ["accuracy", "mae"]):
            errors.append((key, f"{monitor} is not tracked: add {base} to training.metrics"))

    if training.mixup is not None and training.cutmix is not None:
        errors.append(("training.cutmix", "choose mixup or cutmix for a run, not both"))
    warnings.extend(_selu_warnings(model))
    if isinstance(spec.repeat, list) and len(set(spec.repeat)) != len(spec.repeat):
        errors.append(("repeat", f"seeds must be distinct (got {spec.repeat})"))
    if spec.cv is not None and spec.cv.fold is not None and spec.cv.fold >= spec.cv.folds:
        errors.append(("cv.fold", f"must be below cv.folds = {spec.cv.folds} (got {spec.cv.fold})"))
    if spec.cv is not None and data.split.val == 0 and data.split.train == 0:
        errors.append(("cv", "cross-validation needs train+val samples"))
    if spec.search is not None:
        errors.extend(_search_checks(spec.search, training.metrics))

    optimizer = training.optimizer
    for key in sorted(optimizer.model_fields_set - COMMON_OPTIMIZER_PARAMS - OPTIMIZER_PARAMS[optimizer.name]):
        if getattr(optimizer, key) == type(optimizer).model_fields[key].default:
            continue  # a resolved config.yaml writes every default: only a value someone chose is worth a warning
        warnings.append((f"training.optimizer.{key}", f"is not used by optimizer {training.optimizer.name}"))
    return errors, warnings


def _search_checks(search: Search, metrics: Optional[list[str]]) -> list[tuple[str, str]]:
    errors = []
    if not search.params:
        errors.append(("search.params", "needs at least one dotted path to vary"))
    for path, values in search.params.items():
        key = f"search.params.{path}"
        if path.split(".")[0] in ("search", "repeat", "cv", "seed", "name", "extends"):
            errors.append((key, "cannot be searched: the seeds and folds come from repeat and cv "
                                "(search over model, training and data keys)"))
        if isinstance(values, list) and not values:
            errors.append((key, "an empty list has nothing to try"))
        if isinstance(values, Distribution) and search.method == "grid":
            errors.append((key, f"a {values.kind} distribution needs method: random (grid takes lists)"))
    if search.refine is not None and search.method != "random":
        errors.append(("search.refine", "coarse-to-fine rounds sample points: use method: random"))
    base = search.objective.metric
    for prefix in ("train_", "val_", "test_"):
        base = base.removeprefix(prefix)
    if base != "loss" and base not in (metrics or ["accuracy", "mae"]):
        errors.append(("search.objective.metric", f"{search.objective.metric} is not tracked (allowed: loss or "
                                                  f"a metric of training.metrics, with train_/val_/test_)"))
    return errors


def _selu_warnings(model: Model) -> list[tuple[str, str]]:
    """SELU self-normalizes only with LeCun-normal weights and alpha dropout (Klambauer et al., 2017)."""
    out = []
    for i, layer in enumerate(model.resolved_layers()):
        if not isinstance(layer, WEIGHTED) or layer.activation != "selu":
            continue
        if layer.initializer != "lecun_normal":
            out.append((f"model.layers.{i}.initializer", f"selu self-normalizes only with lecun_normal weights "
                                                         f"(Klambauer et al., 2017); got {layer.initializer}"))
        if layer.dropout > 0 and layer.dropout_type != "alpha":
            out.append((f"model.layers.{i}.dropout_type", f"{layer.dropout_type} dropout breaks selu's "
                                                          "self-normalization; alpha dropout keeps mean and variance"))
    return out

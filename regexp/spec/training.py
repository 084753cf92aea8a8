"""The `training` section of the spec: optimizer, learning-rate schedule, early stopping, label
smoothing, mixing and augmentation, metrics, distribution. No TensorFlow here."""

from typing import Annotated, ClassVar, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from regexp.registry.metrics import METRICS, canonical
from regexp.registry.optimizers import OPTIMIZERS
from regexp.spec.parts import NonNegative, OneOf, Part, Rate


def _readers(key: str) -> str:
    """Which optimizers read `key`, and their own defaults of it: the start of its help."""
    own = [f"{o.name} {o.defaults[key]:g}" for o in OPTIMIZERS.values() if key in o.defaults]
    return ", ".join(o.name for o in OPTIMIZERS.values() if key in o.params) + (
        f" (default {', '.join(own)})" if own else "")


class Optimizer(Part):
    name: Literal[tuple(OPTIMIZERS)] = Field("adam", description=" | ".join(OPTIMIZERS) + ".")
    learning_rate: float = Field(0.001, gt=0.0, description="Initial learning rate (a0 of the schedule).")
    momentum: Rate = Field(0.9, description=f"{_readers('momentum')}: the velocity's decay (beta).")
    beta_1: Rate = Field(0.9, description=f"{_readers('beta_1')}: decay of the first-moment (mean) estimate.")
    beta_2: Rate = Field(0.999, description=f"{_readers('beta_2')}: decay of the second-moment estimate.")
    rho: Rate = Field(0.9, description=f"{_readers('rho')}: decay of the squared-gradient average.")
    epsilon: float = Field(1.0e-7, gt=0.0, description="Added to the denominator for numerical stability.")
    weight_decay: Optional[float] = Field(None, ge=0.0, description="Decoupled weight decay (adamw default 0.004).")
    clipnorm: Optional[float] = Field(None, gt=0.0, description="Clip each gradient to this norm.")

    @model_validator(mode="before")
    @classmethod
    def _optimizer_defaults(cls, value):
        """An optimizer's own defaults (the optimizer registry's, Keras's) for the keys not written."""
        name = value.get("name", "adam") if isinstance(value, dict) else None
        return {**OPTIMIZERS[name].defaults, **value} if isinstance(name, str) and name in OPTIMIZERS else value


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
    values: list[Annotated[float, Field(gt=0.0)]] = Field(description="One more value than boundaries; replaces "
                                                                      "learning_rate.")


class Cosine(_Schedule):
    name: Literal["cosine"]
    warmup: int = Field(0, ge=0, description="Linear warm-up from 0 to a0 over this many epochs/steps.")
    alpha: float = Field(0.0, ge=0.0, le=1.0, description="Final rate as a fraction of a0.")
    decay_steps: Optional[int] = Field(None, ge=1, description="Length of the cosine after warm-up (default: the rest "
                                                               "of training).")


class Plateau(_Schedule):
    name: Literal["plateau"]
    monitor: str = Field("val_loss", description="Metric watched (val_loss, val_accuracy, ...).")

    _alias = field_validator("monitor", mode="before")(lambda value: canonical(value))
    factor: float = Field(0.1, gt=0.0, lt=1.0, description="Multiply the rate by this when the metric stalls.")
    patience: int = Field(5, ge=0, description="Epochs without improvement before reducing.")
    min_lr: float = Field(0.0, ge=0.0, description="Lower bound of the rate.")


Schedule = Annotated[Union[Constant, Exponential, InverseTime, InverseSqrt, Step, Piecewise, Cosine, Plateau],
                     Field(discriminator="name")]


class Augment(OneOf):
    """One Keras random image layer; `augment` is a list of these, applied in order, in training only."""

    one_of: ClassVar[str] = "each augment item is one of"

    flip: Optional[Literal["horizontal", "vertical", "horizontal_and_vertical"]] = Field(
        None, description="RandomFlip (flipping a 6 can make a 9: label-changing transforms are your call).")
    rotate: Optional[float] = Field(None, gt=0.0, le=1.0, description="RandomRotation: up to this fraction of a full "
                                                                      "turn.")
    zoom: Optional[float] = Field(None, gt=0.0, lt=1.0,
                                  description="RandomZoom: zoom in or out by up to this fraction.")
    translate: Optional[float] = Field(None, gt=0.0, lt=1.0, description="RandomTranslation: shift by up to this "
                                                                         "fraction of the size.")
    crop: Optional[list[Annotated[int, Field(ge=1)]]] = Field(
        None, min_length=2, max_length=2, description="RandomCrop to [height, width] (a center crop at inference).")
    contrast: Optional[float] = Field(None, gt=0.0, le=1.0, description="RandomContrast factor.")
    brightness: Optional[float] = Field(None, gt=0.0, le=1.0, description="RandomBrightness factor.")
    shear: Optional[float] = Field(None, gt=0.0, le=1.0, description="RandomShear: shear along x and y by up to this "
                                                                     "factor.")
    perspective: Optional[float] = Field(None, gt=0.0, le=1.0, description="RandomPerspective: move the corners by up "
                                                                           "to this fraction (applied to every image).")


class Mixup(Part):
    alpha: float = Field(0.2, gt=0.0, description="λ ~ Beta(alpha, alpha); small alpha mixes little.")


class CutMix(Part):
    alpha: float = Field(1.0, gt=0.0, le=1.0, description="The pasted area follows Beta(alpha, alpha); 1 = uniform, as "
                                                          "in the CutMix paper (Keras's CutMix takes alpha <= 1).")


class Cutout(Part):
    size: float = Field(0.25, gt=0.0, lt=1.0, description="Side of the erased square as a fraction of the image side.")


class EarlyStopping(Part):
    monitor: str = Field("val_loss", description="Metric watched; its direction (min/max) follows its name (val_acc: "
                                                 "val_accuracy).")

    _alias = field_validator("monitor", mode="before")(lambda value: canonical(value))
    patience: int = Field(5, ge=0, description="Epochs without improvement before stopping.")
    min_delta: NonNegative = Field(0.0, description="Smallest change that counts as an improvement.")
    restore_best_weights: bool = Field(True, description="Keep the weights of the best epoch, not the last.")


class Training(Part):
    epochs: int = Field(100, ge=1, description="Maximum number of epochs.")
    batch_size: Union[Annotated[int, Field(ge=1)], Literal["full"]] = Field(
        32, description="Mini-batch size, or `full` for batch gradient descent.")
    optimizer: Optimizer = Field(default_factory=Optimizer, description="The optimizer and its parameters.")
    lr_schedule: Optional[Schedule] = Field(None, description="Learning-rate decay (a name alone, e.g. `cosine`, takes "
                                                              "its defaults).")
    early_stopping: Optional[EarlyStopping] = Field(None, description="Stop when the monitored metric stops improving "
                                                                      "(an integer is a patience).")
    label_smoothing: Rate = Field(0.0, description="Classification: mix one-hot targets with the uniform distribution.")
    mixup: Optional[Mixup] = Field(None, description="Mix pairs of training samples and their labels (any data).")
    cutmix: Optional[CutMix] = Field(None, description="Paste a patch of another training image, labels mixed by area "
                                                       "(images).")
    cutout: Optional[Cutout] = Field(None, description="Erase a random square of each training image to 0 (images).")
    augment: list[Augment] = Field(default_factory=list, description="Keras random image layers in order, training "
                                                                     "only (images).")
    metrics: Optional[list[Literal[tuple(METRICS)]]] = Field(
        None, description="Metrics to track; default [accuracy] for classification, [mae] for regression (acc: "
                          "accuracy).")
    distribute: Literal["none", "mirrored", "multi_worker"] = Field(
        "none", description="tf.distribute strategy: mirrored (the GPUs of this machine, else its logical CPUs) | "
                            "multi_worker (machines named by TF_CONFIG; Keras 3 cannot fit across 2+ workers yet, "
                            "keras-team/keras#20585). batch_size stays the global batch.")
    steps_per_execution: Union[Literal["epoch"], Annotated[int, Field(ge=1)]] = Field(
        "epoch", description="Training steps per call into TensorFlow; `epoch` runs a whole epoch per call (same "
                             "results, far less Python overhead for small models).")

    def batches(self, n_train: int) -> tuple[int, int]:
        """(batch size, steps per epoch) on n_train samples: `full` and a batch larger than the data
        are the whole train part; the last batch of an epoch may be smaller."""
        size = n_train if self.batch_size == "full" else min(self.batch_size, n_train)
        return size, -(-n_train // size)

    @field_validator("metrics", mode="before")
    @classmethod
    def _metric_aliases(cls, value):
        return [canonical(v) for v in value] if isinstance(value, list) else value

    @field_validator("lr_schedule", mode="before")
    @classmethod
    def _schedule_shorthand(cls, value):
        return {"name": value} if isinstance(value, str) else value

    @field_validator("early_stopping", mode="before")
    @classmethod
    def _patience_shorthand(cls, value):
        return {"patience": value} if isinstance(value, int) and not isinstance(value, bool) else value

"""Which trials can share a pack, and why a trial cannot. No TensorFlow: the plan display uses it.

A pack trains K trials of one *shape* together (regexp/packed/trainer.py): the same layer
structure, batch size, optimizer type, epochs, data source and tracked metrics. Everything a pack
holds per slice (seed and fold, so split, order and initial weights; L1/L2, max-norm, dropout
rates, noise, learning rate, schedule, optimizer hyperparameters, label smoothing, mixup,
early-stopping settings) is left out of the shape key. What the packed trainer does not implement
is named by `unpackable`, and those trials run alone, as they would without --pack; for optimizers,
schedules and metrics the registries say what packs compute (an entry's pack update or reduction)
and why not where they do not.
"""

import json
from dataclasses import dataclass

from regexp.registry.metrics import BY_NAME, EVAL_BATCH
from regexp.registry.optimizers import OPTIMIZERS
from regexp.registry.schedules import SCHEDULES
from regexp.spec import LoadedSpec
from regexp.spec.datasets import facts
from regexp.spec.layers import SEQUENTIAL
from regexp.spec.schema import SPATIAL, WEIGHTED, Defaults

PACKED_NORMS = (None, "layer")
# Pack sizes `auto` stops at, measured on this project's 2-core CPU at one thread per worker
# (bench/packed.py scale, scale-cnn): an MLP's ms per model-epoch falls until about 128 and stays
# (1.87 ms at 128, 1.97 at 256); a CNN's is lowest at 8-16 (33 ms) and rises again past 32 (50 ms at
# 256) while its memory grows by about 34 MB a slice. Packing won from N = 2 for both shapes.
MAX_PACK = 256
MAX_CONV_PACK = 16
MEMORY_BUDGET = 1 << 30  # bytes of weights, optimizer state and activations one pack may hold

# keys a pack holds per slice: left out of the shape key (dotted; layers.* applies to every layer)
PER_SLICE = (
    "name", "description", "tags", "seed", "repeat", "search", "cv.fold", "evaluation",
    "model.input_dropout", "model.input_noise", "model.defaults", "model.output.l1", "model.output.l2",
    "model.output.bias_l1", "model.output.bias_l2", "model.output.initializer",
    "layers.initializer", "layers.l1", "layers.l2", "layers.bias_l1", "layers.bias_l2", "layers.max_norm",
    "layers.dropout", "layers.weight_noise", "layers.activation_noise",
    "training.optimizer.learning_rate", "training.optimizer.momentum", "training.optimizer.beta_1",
    "training.optimizer.beta_2", "training.optimizer.rho", "training.optimizer.epsilon",
    "training.optimizer.weight_decay", "training.optimizer.clipnorm", "training.lr_schedule",
    "training.early_stopping", "training.label_smoothing", "training.mixup",
)


def unpackable(loaded: LoadedSpec) -> str | None:
    """Why this trial must run alone, or None when a pack can train it exactly."""
    spec = loaded.spec
    t = spec.training
    for i, layer in enumerate(spec.model.resolved_layers()):
        if layer.type in (*SEQUENTIAL, "embedding"):
            # the pack stacks dense and conv2d kernels; a step loop (or a token table) per slice it has not
            return (f"model.layers.{i}: {layer.type} layers train alone (packs stack dense and conv2d layers "
                    "only)")
        if not isinstance(layer, WEIGHTED):
            continue  # pooling, flatten: no weights, nothing per slice
        if layer.norm not in PACKED_NORMS:
            return f"model.layers.{i}.norm: {layer.norm} norm is not packed (batch_norm and layer norm are)"
        if layer.dropout > 0 and layer.dropout_type not in ("standard", "gaussian"):
            return f"model.layers.{i}.dropout_type: {layer.dropout_type} dropout is not packed"
        for key in ("use_bias", "bn_momentum", "bn_epsilon", "bn_center", "bn_scale"):
            if getattr(layer, key) != Defaults.model_fields[key].default:
                return f"model.layers.{i}.{key}: only Keras's default ({Defaults.model_fields[key].default}) is packed"
    optimizer = OPTIMIZERS[t.optimizer.name]
    if optimizer.pack_update is None:
        packed = ", ".join(o.name for o in OPTIMIZERS.values() if o.pack_update)
        return f"training.optimizer.name: {optimizer.name} is not packed: {optimizer.unpacked} ({packed} are)"
    if t.lr_schedule is not None and SCHEDULES[t.lr_schedule.name].unpacked:
        return f"training.lr_schedule: {t.lr_schedule.name} is not packed: {SCHEDULES[t.lr_schedule.name].unpacked}"
    for key in ("cutmix", "cutout"):
        if getattr(t, key) is not None:
            return f"training.{key} is not packed"
    if t.augment:
        return "training.augment is not packed"
    if spec.logging.layer_stats or spec.logging.per_step or spec.logging.tensorboard:
        return "logging.layer_stats/per_step/tensorboard record a Keras model's steps; not packed"
    if t.distribute != "none":
        return f"training.distribute: {t.distribute} trains one model across devices; not packed"
    for name in t.metrics or []:
        if BY_NAME[name].pack is None:
            packed = ", ".join(m for m, entry in BY_NAME.items() if entry.pack and entry.tasks)
            return f"training.metrics: {name} is not computed in packs: {BY_NAME[name].unpacked} ({packed} are)"
    return None


def shape_key(loaded: LoadedSpec) -> str:
    """Trials with equal keys can share a pack (their data sizes are checked again once loaded)."""
    config = loaded.resolved()
    for dotted in PER_SLICE:
        if dotted.startswith("layers."):
            for layer in config["model"]["layers"]:
                layer.pop(dotted.split(".", 1)[1], None)
            continue
        *path, last = dotted.split(".")
        node = config
        for part in path:
            node = node.get(part) or {}
        node.pop(last, None)
    return json.dumps(config, sort_keys=True)


def pack_memory(loaded: LoadedSpec, features: int, outputs: int) -> int:
    """Bytes one slice needs in a pack (a rough, safe-side estimate): weights with gradient and two
    optimizer slots, plus the activations of the larger of a training batch (kept for the backward
    pass) and an evaluation chunk of EVAL_BATCH samples (copied about three times by a grouped
    convolution's transposes: the CNN's measured peak, about 34 MB a slice, is this chunk). A conv
    layer's output is counted at its input's height and width, as if no stride or pooling shrank it."""
    spec = loaded.spec
    known = facts(spec)
    features = known.features if known else features
    image = tuple(spec.data.shape or (known.shape if known else None) or ()) if any(
        layer.type in SPATIAL for layer in spec.model.layers) else ()
    pixels, width = (image[0] * image[1], image[2]) if len(image) == 3 else (1, features)
    weights, activations = 0, features
    for layer in spec.model.resolved_layers():
        if layer.type == "conv2d":
            size = layer.kernel_size if isinstance(layer.kernel_size, int) else max(layer.kernel_size)
            weights += (size * size * width + 1) * layer.filters
            width = layer.filters
            activations += pixels * width
        elif layer.type == "dense":
            weights += (pixels * width + 1) * layer.units  # after a flatten: every pixel's channels
            pixels, width = 1, layer.units
            activations += width
    weights += (pixels * width + 1) * outputs
    batch = spec.training.batch_size
    samples = max(4 * (1024 if batch == "full" else batch), 3 * EVAL_BATCH)
    return 4 * (4 * weights + samples * (activations + outputs))


@dataclass
class Pack:
    """Trials (their indices in the plan) trained together; `reason` when they run alone."""
    members: list[int]
    reason: str | None = None


def group(specs: list[LoadedSpec], size: str | int, workers: int = 1, units: list[str] | None = None) -> list[Pack]:
    """Split the trials into packs. size: "off" (all alone), "auto", or a number (at most that many).
    `units` (search.halving: each trial's point key) keeps the trials of a unit in one pack, so that
    a rung decides on the mean over all of a point's seeds and folds."""
    if size == "off":
        return [Pack([i], "--pack off") for i in range(len(specs))]
    packs: list[Pack] = []
    shapes: dict[str, list[int]] = {}
    for i, loaded in enumerate(specs):
        reason = unpackable(loaded)
        if reason is not None:
            packs.append(Pack([i], reason))
        else:
            shapes.setdefault(shape_key(loaded), []).append(i)
    for members in shapes.values():
        if len(members) == 1:
            packs.append(Pack(members, "the only trial of its shape (layers, batch size, optimizer, data)"))
            continue
        cap = int(size) if size != "auto" else _auto_size(specs[members[0]], len(members), workers)
        count = -(-len(members) // cap)  # as few packs as the cap allows, of equal size
        if units is None:
            packs.extend(Pack(members[j::count]) for j in range(count))
            continue
        whole = list(dict.fromkeys(units[i] for i in members))  # units in plan order, dealt out as the trials are
        packs.extend(Pack([i for i in members if units[i] in whole[j::count]]) for j in range(min(count, len(whole))))
    return packs


def _auto_size(loaded: LoadedSpec, trials: int, workers: int) -> int:
    """As many as fit the memory budget and MAX_PACK, spread so that every worker gets a pack."""
    per_slice = pack_memory(loaded, features=1024, outputs=10)  # features unknown before loading: assume many
    conv = any(layer.type in SPATIAL for layer in loaded.spec.model.layers)
    cap = max(1, min(MAX_CONV_PACK if conv else MAX_PACK, MEMORY_BUDGET // per_slice))
    return max(1, min(cap, -(-trials // max(1, workers))))

"""Loading a run's model.keras: Keras safe mode, and only Keras's classes and regexp's own.

Run folders get shared, so a model file is untrusted input. A Lambda layer carries Python bytecode
and a class from any other module would import that module; both are refused by reading the
file's config.json before Keras deserializes anything. Safe mode stays on as a second line.
"""

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

from regexp.errors import SpecError

CODE_CLASSES = {"Lambda", "__lambda__"}  # hold Python code: never loaded


def check_model_file(path: Path) -> None:
    """Raise SpecError naming what makes `path` unsafe or unreadable; return quietly when it is fine."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except FileNotFoundError:
        raise SpecError(f"{path}: no such model file") from None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise SpecError(f"{path}: not a Keras model file ({type(exc).__name__}: {exc})") from None
    foreign = sorted(set(_foreign_classes(config)))
    if foreign:
        raise SpecError(f"{path}: refused to load: it contains {', '.join(foreign)}; a model file may hold only "
                        "Keras's own classes and regexp's (a Lambda layer or a custom class is code that would run "
                        "on load)")


def load_model_file(path: Path):
    check_model_file(path)
    import keras

    import regexp.net.layers  # noqa: F401  (registers NoisyDense, NoisyConv1D, NoisyConv2D, AlwaysOn)
    import regexp.net.optimizers  # noqa: F401  (registers the hand-written learning-rate schedule)
    import regexp.net.scoring  # noqa: F401  (registers the ece metric)
    return keras.saving.load_model(path, safe_mode=True)


def _foreign_classes(node) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("class_name"), str):
            name, module = node["class_name"], node.get("module") or ""
            registered = node.get("registered_name") or ""
            ours = module.startswith("regexp.") and registered.startswith("regexp>")
            if name in CODE_CLASSES or (module and module.split(".")[0] != "keras" and not ours):
                yield f"{name} (from {module or 'no module'})"
        for value in node.values():
            yield from _foreign_classes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _foreign_classes(value)

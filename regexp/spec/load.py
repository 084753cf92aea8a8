"""From a spec file (plus `extends:` bases and `--set` overrides) to a validated Spec.

Every value keeps the location it came from (`FILE:LINE` or `--set key=value`), so that errors,
including the ones found later while loading data, point at the line the user has to change.
"""

import difflib
import hashlib
import json
import reprlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from regexp.errors import SpecError, problem
from regexp.spec.checks import cross_checks, unused_optimizer_keys
from regexp.spec.schema import Spec
from regexp.spec.yaml_lines import Locations, Path_, dotted, parse_yaml, read_yaml_file

_SHORT = reprlib.Repr()  # a value quoted in an error line stays short, whatever a spec expands to
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring, _SHORT.maxother = 2, 4, 4, 120, 120


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec and where each of its keys was written."""

    spec: Spec
    file: Path
    locations: Locations = field(repr=False)
    warnings: tuple[str, ...] = ()

    def where(self, key: str) -> str:
        """The location of a dotted key, or of its closest written ancestor."""
        return _nearest(self.locations, _split_key(key)) or str(self.file)

    def error(self, key: str, message: str) -> SpecError:
        return SpecError(problem(self.where(key), key, message))

    def resolved(self) -> dict[str, Any]:
        """The spec with every default filled in: training on it reproduces the run."""
        spec = self.spec
        layers = [layer.model_dump(mode="json") for layer in spec.model.resolved_layers()]
        out = spec.model_dump(mode="json", exclude={"extends", "slurm"})  # where it ran is not what it trained
        out["model"]["layers"] = layers
        for key in unused_optimizer_keys(spec.training.optimizer):  # no effect on the run (the log warned)
            out["training"]["optimizer"][key] = type(spec.training.optimizer).model_fields[key].default
        _absolute_paths(self, out)
        return out

    def as_written(self) -> dict[str, Any]:
        """The merged spec (extends and --set applied) with only the keys someone wrote, data path
        made absolute. Unlike resolved(), its layers do not pin the defaults, so an override of
        model.defaults.* still reaches every layer: sweeps snapshot this."""
        out = self.spec.model_dump(mode="json", exclude_unset=True, exclude={"extends"})
        _absolute_paths(self, out)
        return out

    def spec_hash(self) -> str:
        text = json.dumps(self.resolved(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:8]


DATA_PATHS = ("path", "val_path", "test_path")


def _absolute_paths(loaded: LoadedSpec, out: dict) -> None:
    for key in DATA_PATHS:
        if getattr(loaded.spec.data, key) is not None:
            out["data"][key] = str(resolve_data_path(loaded, f"data.{key}"))


def resolve_data_path(loaded: LoadedSpec, key: str = "data.path") -> Path:
    """data.path (val_path, test_path) is relative to the file that wrote it (like `extends:`)."""
    path = Path(getattr(loaded.spec.data, key.removeprefix("data."))).expanduser()
    if path.is_absolute():
        return path
    source = loaded.where(key).rsplit(":", 1)[0]
    base = Path(source).parent if not source.startswith("--set") else Path.cwd()
    return (base / path).resolve()


def existing_data_path(loaded: LoadedSpec, key: str = "data.path") -> Path:
    """A data path resolved, or a spec error naming the key when nothing is there."""
    path = resolve_data_path(loaded, key)
    if not path.exists():
        raise loaded.error(key, f"{path} does not exist")
    return path


def load_specs(files: list[Path], overrides: list[str] = (), check_data: bool = False) -> list[LoadedSpec]:
    """Every spec checked before anything runs; one SpecError lists the problems of all files."""
    loaded, problems = [], []
    for file in files:
        try:
            spec = load_spec(file, overrides)
            for key in DATA_PATHS if check_data else ():
                if getattr(spec.spec.data, key) is not None:
                    existing_data_path(spec, f"data.{key}")
            loaded.append(spec)
        except SpecError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SpecError(problems)
    return loaded


def load_spec(file: str | Path, overrides: list[str] = ()) -> LoadedSpec:
    """Read, merge, override and validate one spec; raises SpecError listing every problem."""
    file = Path(file)
    data, locations = _read_with_bases(file, stack=())
    for override in overrides:
        data, locations = _apply_override(data, locations, override)
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_describe_all(exc.errors(), data, locations, file)) from None
    loaded = LoadedSpec(spec, file, locations)

    def same_file(key_a: str, key_b: str) -> bool:
        return _source(loaded.where(key_a)) == _source(loaded.where(key_b))
    run_config = file.name == "config.yaml" and (file.parent / "run.json").is_file()  # written by regexp
    errors, warnings = cross_checks(spec, same_file, resolved=run_config)
    if errors:
        raise SpecError([problem(loaded.where(key), key, msg) for key, msg in errors])
    return LoadedSpec(spec, file, locations, tuple(problem(loaded.where(k), k, m) for k, m in warnings))


def _source(location: str) -> str:
    """The file of a FILE:LINE location; every --set counts as one source, the command line."""
    return "--set" if location.startswith("--set") else location.rsplit(":", 1)[0]


# ------------------------------------------------------------------------------- extends / merge
def _read_with_bases(file: Path, stack: tuple[Path, ...]) -> tuple[dict, Locations]:
    if not file.exists():
        where = f"{stack[-1]}" if stack else None
        raise SpecError(problem(where, "extends" if stack else "", f"spec file {file} does not exist"))
    data, locations = read_yaml_file(file)
    if not isinstance(data, dict):
        raise SpecError(problem(locations[()], "", f"a spec is a mapping of keys (got {type(data).__name__})"))
    base_name = data.pop("extends", None)
    if base_name is None:
        return data, locations
    if not isinstance(base_name, str):
        raise SpecError(problem(locations[("extends",)], "extends", f"must be a file path (got {base_name!r})"))
    base_file = (file.parent / base_name).resolve()
    chain = stack + (file.resolve(),)
    if base_file in chain:
        cycle = " -> ".join(str(p) for p in chain + (base_file,))
        raise SpecError(problem(locations[("extends",)], "extends", f"cycle: {cycle}"))
    base, base_locations = _read_with_bases(base_file, chain)
    return _merge(base, data), _merge_locations(base_locations, locations, data)


def _merge(base: Any, over: Any) -> Any:
    """Deep merge of mappings; anything else (lists included) is replaced by `over`."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge(base[key], value) if key in base else value
        return out
    return over


def _merge_locations(base: Locations, over: Locations, over_data: dict) -> Locations:
    """Keep a base location only where the overriding file did not replace that value."""
    def replaced(path: Path_) -> bool:
        """True when the overriding file writes a non-mapping value at `path` or above it."""
        node = over_data
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
            if not isinstance(node, dict):
                return True
        return False

    out = {path: loc for path, loc in base.items() if path and not replaced(path)}
    out.update({path: loc for path, loc in over.items() if path})
    out[()] = over[()]
    return out


# ------------------------------------------------------------------------------------ --set
def _apply_override(data: dict, locations: Locations, override: str) -> tuple[dict, Locations]:
    # control characters are shown escaped (\x07), not sent to the terminal
    source = "--set " + "".join(c if c.isprintable() else repr(c)[1:-1] for c in override)
    key, sep, text = override.partition("=")
    if not sep or not key.strip():
        raise SpecError(problem(source, "", "expected dotted.key=value, e.g. training.epochs=5"))
    value, _ = parse_yaml(text, source)
    path = _split_key(key.strip())
    data = json.loads(json.dumps(data))  # a private copy: the caller's dict stays as it was
    node: Any = data
    for i, part in enumerate(path[:-1]):
        node = _step(node, part, path[: i + 1], source, create=not isinstance(path[i + 1], int))
    last = path[-1]
    if isinstance(node, list):
        _step(node, last, path, source, create=False)  # checks the index
    elif not isinstance(node, dict):
        raise SpecError(problem(source, dotted(path), f"cannot set a key inside a {type(node).__name__}"))
    node[last] = value
    locations = {p: loc for p, loc in locations.items() if p[: len(path)] != path}
    locations[path] = source
    return data, locations


def _split_key(key: str) -> Path_:
    if key.startswith("search.params."):  # the searched path is one key that contains dots
        rest = key.removeprefix("search.params.")
        return ("search", "params", rest)
    # isascii: "¹" is a digit to isdigit
    return tuple(int(part) if part.isascii() and part.isdigit() else part for part in key.split("."))


def _step(node: Any, part: str | int, path: Path_, source: str, create: bool) -> Any:
    if isinstance(node, list):
        if not isinstance(part, int) or not 0 <= part < len(node):
            raise SpecError(problem(source, dotted(path), f"no such list item (the list has {len(node)}: "
                                                          f"indices 0 to {len(node) - 1})"))
        return node[part]
    if not isinstance(node, dict):
        raise SpecError(problem(source, dotted(path), f"cannot set a key inside a {type(node).__name__}"))
    if part not in node or node[part] is None:
        if not create:  # indexing into a list the spec does not write (its default is not expanded)
            raise SpecError(problem(source, dotted(path), f"is not written in the spec, so it has no items to "
                                                          f"index; set the whole list: --set '{dotted(path)}=[...]'"))
        node[part] = {}
    return node[part]


# ------------------------------------------------------------------------------- error texts
def _nearest(locations: Locations, path: Path_) -> str | None:
    for end in range(len(path), -1, -1):
        if path[:end] in locations:
            return locations[path[:end]]
    return None


def _data_path(loc: tuple, data: Any) -> Path_:
    """Drop pydantic's union tags ('dense', 'function-after[...]') from an error location."""
    out: list[str | int] = []
    node = data
    for part in loc:
        in_mapping = isinstance(node, dict) and part in node
        if in_mapping or (isinstance(node, list) and isinstance(part, int) and part < len(node)):
            node = node[part]
            out.append(part)
        elif isinstance(part, str) and not isinstance(node, (dict, list)):
            continue  # a tag inside a scalar's union
        elif isinstance(node, dict) and isinstance(part, str) and part in _model_fields_at(data, out):
            out.append(part)  # a missing key: point at it anyway
            node = None
    return tuple(out)


def _model_fields_at(data: Any, path: list) -> set[str]:
    model = _model_at(path, data)
    return set(model.model_fields) if model else set()


def _model_at(path: Path_ | list, data: Any) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at `path` (None for leaves)."""
    annotation: Any = Spec
    node = data
    for part in path:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        model = _first_model(annotation, node)
        if model is None or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        node = node.get(part) if isinstance(node, dict) else None
    return _first_model(annotation, node)


def _first_model(annotation: Any, node: Any) -> type[BaseModel] | None:
    """Find the BaseModel inside Optional[...] / list[...] / a tagged union, by the node's tag."""
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            tag_field = "type" if "type" in arg.model_fields else "name" if "name" in arg.model_fields else None
            if tag_field and isinstance(node, dict) and tag_field in arg.model_fields:
                allowed = typing.get_args(arg.model_fields[tag_field].annotation)
                if node.get(tag_field) not in allowed:
                    continue
            return arg
        found = _first_model(arg, node)
        if found is not None:
            return found
    return None


def _describe_all(errors: list[dict], data: dict, locations: Locations, file: Path) -> list[str]:
    """One line per key: a value that fits none of a union's members gets one merged message."""
    by_key: dict[Path_, list[dict]] = {}
    for err in errors:
        by_key.setdefault(_data_path(err["loc"], data), []).append(err)
    lines = []
    for path, errs in by_key.items():
        kinds = {type(e.get("input")) for e in errs}
        if len(errs) > 1 and kinds <= {dict} and any(e["type"] != "list_type" for e in errs):
            errs = [e for e in errs if e["type"] != "list_type"]  # a mapping was written: the list option is moot
        if len(errs) == 1:
            lines.append(_describe(errs[0], data, locations, file))
            continue
        where = _nearest(locations, path) or str(file)
        options = "; or ".join(_expected(err) for err in errs)
        lines.append(problem(where, dotted(path), f"{errs[0].get('input')!r} is not allowed (expected {options})"))
    return lines


def _expected(err: dict) -> str:
    if err["type"] == "literal_error":
        return f"one of {err['ctx']['expected']}"
    return err["msg"].removeprefix("Input should be ").removeprefix("Value error, ")


def _describe(err: dict, data: dict, locations: Locations, file: Path) -> str:
    path = _data_path(err["loc"], data)
    key = dotted(path)
    where = _nearest(locations, path) or str(file)
    kind, ctx, value = err["type"], err.get("ctx", {}), err.get("input")
    if kind == "extra_forbidden":
        parent = _model_at(path[:-1], data)
        allowed = sorted(parent.model_fields) if parent else []
        hint = _did_you_mean(str(path[-1]), allowed)
        return problem(where, key, f"unknown key{hint} (allowed here: {', '.join(allowed)})")
    if kind == "missing":
        return problem(where, key, "is required")
    if kind in ("literal_error", "union_tag_invalid", "union_tag_not_found"):
        expected = ctx.get("expected", ctx.get("expected_tags", ""))
        allowed = [a.strip().strip("'") for a in expected.replace(" or ", ", ").split(",") if a.strip()]
        tag = ctx.get("tag", value)
        hint = _did_you_mean(str(tag), allowed)
        if kind == "union_tag_not_found":
            return problem(where, key, f"needs a `{ctx.get('discriminator', 'type').strip(chr(39))}` (allowed: "
                                       f"{' | '.join(allowed)})")
        return problem(where, key, f"{tag!r} is not allowed{hint} (allowed: {' | '.join(allowed)})")
    message = err["msg"].removeprefix("Value error, ")
    if kind != "value_error":
        message = f"{message[0].lower()}{message[1:]} (got {_SHORT.repr(value)})"
    return problem(where, key, message)


def _did_you_mean(word: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(word, allowed, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""

"""Read YAML with `yaml.safe_load` semantics while remembering where every key was written.

PyYAML's SafeLoader forgets line numbers once it builds Python objects, so we compose the node
tree ourselves and construct scalars with the safe constructor. The result is the plain data plus
a map from key path (a tuple of keys and list indices) to a location string `FILE:LINE`.
Duplicate keys, non-standard tags and YAML merge keys are errors; aliases are expanded but the
number of nodes is capped so that an alias bomb fails fast.
"""

import copy
import functools
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from regexp.errors import SpecError, problem

Path_ = tuple[str | int, ...]
Locations = dict[Path_, str]

MAX_NODES = 100_000  # far more than any real spec; an alias bomb hits it in milliseconds
MAX_BYTES = 1_000_000
MAX_DEPTH = 100  # PyYAML composes recursively: [[[[...]]]] 5,000 deep overflows Python's stack
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


def dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path)


def read_yaml_file(file: Path) -> tuple[Any, Locations]:
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise SpecError(problem(str(file), "", f"cannot read the spec: {exc.strerror}")) from None
    if len(raw) > MAX_BYTES:
        raise SpecError(problem(str(file), "", f"the spec is {len(raw):,} bytes; at most {MAX_BYTES:,} are read"))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(problem(str(file), "", f"not UTF-8 text (byte {exc.start})")) from None
    return parse_yaml(text, str(file))


def parse_yaml(text: str, source: str) -> tuple[Any, Locations]:
    """Parse one YAML document; `source` names it in locations ('FILE' or '--set a.b=1')."""
    data, locations = _parse(text, source)
    return copy.deepcopy(data), dict(locations)  # callers merge and override in place


# A sweep loads its spec files (and each --set value) once per trial: for 900 trials that was 5 s of
# pure-Python YAML parsing before the first pack started. Keyed by the text itself, so never stale.
@functools.lru_cache(maxsize=256)
def _parse(text: str, source: str) -> tuple[Any, Locations]:
    _check_depth(text, source)
    try:
        loader = yaml.SafeLoader(text)  # its reader refuses control characters right here
    except yaml.reader.ReaderError as exc:
        raise SpecError(_unprintable(exc, text, source)) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {(): _at(source, 0)}
        return _Builder(loader, source).build(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _at(source, mark.line) if mark else source
        raise SpecError(problem(where, "", f"invalid YAML: {exc.problem or exc.context}")) from None
    except yaml.YAMLError as exc:
        raise SpecError(problem(source, "", f"invalid YAML: {exc}")) from None
    finally:
        loader.dispose()


def _unprintable(exc: yaml.reader.ReaderError, text: str, source: str) -> str:
    """ReaderError knows only a character offset: say where, and what the character is."""
    line = text.count("\n", 0, exc.position)
    column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
    code = exc.character if isinstance(exc.character, int) else ord(exc.character)
    return problem(_at(source, line), "", f"invalid YAML: control character U+{code:04X} at column {column} "
                                          "(YAML text allows tab, newline and printable characters only)")


def _check_depth(text: str, source: str) -> None:
    """Reject deep nesting from the event stream, which PyYAML produces without recursion."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise SpecError(problem(_at(source, event.start_mark.line), "",
                                            f"nested more than {MAX_DEPTH} levels deep"))
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        return  # parse_yaml reports it with its line


def _at(source: str, line: int) -> str:
    """`FILE:LINE` (1-based); a --set override is one line, so it is named as it is."""
    return source if source.startswith("--set") else f"{source}:{line + 1}"


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, source: str):
        self.loader, self.source, self.nodes = loader, source, 0
        self.locations: Locations = {}

    def where(self, node) -> str:
        return _at(self.source, node.start_mark.line)

    def build(self, node) -> tuple[Any, Locations]:
        self.locations[()] = self.where(node)
        return self.value(node, ()), self.locations

    def value(self, node, path: Path_) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise SpecError(problem(self.where(node), dotted(path),
                                    f"the document expands to more than {MAX_NODES:,} values (YAML aliases?)"))
        if isinstance(node, MappingNode):
            if node.tag != _MAP_TAG:
                raise SpecError(problem(self.where(node), dotted(path), f"tag {node.tag} is not allowed"))
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self.key(key_node, path)
                if key in out:
                    first = self.locations[path + (key,)]
                    raise SpecError(problem(self.where(key_node), dotted(path + (key,)),
                                            f"duplicate key (first written at {first})"))
                self.locations[path + (key,)] = self.where(key_node)
                out[key] = self.value(value_node, path + (key,))
            return out
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ_TAG:
                raise SpecError(problem(self.where(node), dotted(path), f"tag {node.tag} is not allowed"))
            items = []
            for i, item in enumerate(node.value):
                self.locations[path + (i,)] = self.where(item)
                items.append(self.value(item, path + (i,)))
            return items
        return self.loader.construct_object(node, deep=True)

    def key(self, node, path: Path_) -> str:
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:merge":
            raise SpecError(problem(self.where(node), dotted(path),
                                    "YAML merge keys (<<) are not supported; use `extends:` to share settings"))
        if not isinstance(node, ScalarNode):
            raise SpecError(problem(self.where(node), dotted(path), "keys must be plain names"))
        key = self.loader.construct_object(node)
        if not isinstance(key, str):  # `1: x` or `true: x`; YAML 1.1 reads `on`/`yes` as booleans
            raise SpecError(problem(self.where(node), dotted(path),
                                    f"key {node.value!r} must be a name (quote it if it is one)"))
        return key

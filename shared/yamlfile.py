"""A YAML configuration file (the rules file) read so that every problem names the
file and the line: unreadable, not YAML, or a value the model refuses."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


def read_yaml(path: Path, error: type[Exception]) -> tuple[yaml.Node | None, object]:
    """(the node tree, for line numbers; the data) of `path`, or `error` saying why not."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as problem:
        raise error(f"{path}: cannot read: {problem.strerror}") from None
    try:
        return yaml.compose(text), yaml.safe_load(text)
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise error(f"{path}{where}: not valid YAML: {getattr(problem, 'problem', problem)}") from None


def validated(model: type[Model], data: object, path: Path, node: yaml.Node | None, error: type[Exception],
              prefix: tuple[str, ...] = ()) -> Model:
    """`model` from `data` (read from `node` of `path`, under the keys `prefix`), or
    `error` naming the line and the field of the first problem."""
    try:
        return model.model_validate(data)
    except ValidationError as problem:
        first = problem.errors(include_url=False)[0]
        # pydantic adds validator names such as "function-after[...]" to the path
        location = [*prefix, *(part for part in first["loc"] if not (isinstance(part, str) and "[" in part))]
        dotted = ".".join(str(part) for part in location) or "(top)"
        raise error(f"{path} line {line_of(node, list(first['loc']))}: {dotted}: {first['msg']}") from None


def child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    """The value under `key` of a mapping node, if any."""
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((value for k, value in node.value if k.value == key), None)


def line_of(node: yaml.Node | None, location: list) -> int:
    """The 1-based line of the YAML node at `location` (or of its nearest parent)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in location:
        found = None
        if isinstance(node, yaml.MappingNode):
            found = child(node, part)
            if found is None:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            found = node.value[part]
        else:
            continue  # pydantic adds union/validator names to the path; skip them
        node = found
        line = node.start_mark.line + 1
    return line

"""YAML loading that remembers where each value came from.

Validation errors name a field path (`tasks[2].depends_on[0]`); this module maps those paths
to line numbers, so a user is told exactly which line of which file to fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from agentcoord.errors import InvalidInputError


def load_yaml_file(path: Path) -> tuple[Any, dict[str, int]]:
    """Parse `path`; return the data and a map from field path to 1-based line number."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read file ({exc.strerror})", source=source) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidInputError(f"malformed YAML: {where}{problem}", source=source) from exc
    lines: dict[str, int] = {}
    if node is not None:
        _record_lines(node, "", lines)
    return data, lines


def with_line(error: InvalidInputError, lines: dict[str, int]) -> InvalidInputError:
    """The same error, its source suffixed with the line of the field (or its nearest parent)."""
    path = error.field
    while path and path not in lines:
        path = _parent(path)
    line = lines.get(path) if path else None
    if line is None:
        return error
    return InvalidInputError(error.problem, source=f"{error.source}:{line}", field=error.field)


def _record_lines(node: yaml.Node, path: str, lines: dict[str, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = f"{path}.{key_node.value}" if path else str(key_node.value)
            lines[key] = key_node.start_mark.line + 1
            _record_lines(value_node, key, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, f"{path}[{index}]", lines)


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""

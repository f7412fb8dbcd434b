"""Break a valid message at one place, for the decoder fuzz tests (contracts and workers)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

#: Any JSON value, small: what a broken sender might put where a field belongs.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def json_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a decoded JSON document, the root (an empty path) first."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += json_paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += json_paths(v, (*prefix, i))
    return out


def mutate(doc: Any, path: tuple[Any, ...], delete: bool, replacement: Any) -> None:
    """Delete what is at `path` in `doc`, or put `replacement` there (in place)."""
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement

"""gate's packages import each other in one direction only: no cycle, whichever package is new.

The import-linter ``layers`` contract in pyproject.toml fixes the order of the packages it
lists; this test also covers packages nobody has placed yet, and names the cycle it finds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Set

import grimp
import pytest


def package_graph(root: str) -> dict[str, set[str]]:
    """``{package: packages it imports}`` for the direct children of ``root`` (module level and
    in functions alike; ``if TYPE_CHECKING:`` imports are not imports)."""
    graph = grimp.build_graph(root, cache_dir=None, exclude_type_checking_imports=True)
    edges: dict[str, set[str]] = defaultdict(set)
    for module in graph.modules:
        importer = _child(root, module)
        if importer is None:
            continue
        edges[importer]
        for imported_module in graph.find_modules_directly_imported_by(module):
            imported = _child(root, imported_module)
            if imported is not None and imported != importer:
                edges[importer].add(imported)
    return dict(edges)


def _child(root: str, module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == root else None


def cycles(edges: Mapping[str, Set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of ``edges`` that has one, as the package
    path ``[a, b, ..., a]``."""
    found = []
    for component in _strongly_connected(edges):
        if len(component) > 1:
            found.append(_cycle_within(edges, component))
    return found


def _strongly_connected(edges: Mapping[str, Set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def _cycle_within(edges: Mapping[str, Set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first package (breadth-first)."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(edges.get(node, set()) & component):
            if child == start:
                return [*paths[node], start]
            if child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    raise AssertionError(f"no cycle through {start} in {sorted(component)}")  # pragma: no cover


def test_gate_packages_import_each_other_without_cycles() -> None:
    found = cycles(package_graph("gate"))
    assert not found, "import cycles between gate's packages: " + "; ".join(
        " -> ".join(cycle) for cycle in found
    )


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}}, [["a", "b", "a"]]),
        ({"x": {"a"}, "a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c", "a"]]),
    ],
)
def test_cycle_finder_names_the_cycle(
    edges: dict[str, set[str]], expected: list[list[str]]
) -> None:
    assert cycles(edges) == expected

"""Print the package's import graph between its subpackages, its cycles
between modules, and module sizes.

    python tools/import-graph.py [--modules]

Reads the source with ``ast`` (nothing is imported), so it shows what the
code says, including imports inside functions.
"""

import ast
import os
import sys

PACKAGE = 'nova_aggregates'


def modules(root):
    for folder, _, files in os.walk(os.path.join(root, PACKAGE)):
        for name in files:
            if name.endswith('.py'):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, root)[:-3].replace(os.sep, '.')
                if rel.endswith('.__init__'):
                    rel = rel[:-len('.__init__')]
                yield rel, path


def imports_of(module, path, known):
    tree = ast.parse(open(path).read(), path)
    package = module if path.endswith('__init__.py') else \
        module.rsplit('.', 1)[0]
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')
                parts = parts[:len(parts) - node.level + 1]
                base = '.'.join(parts + ([base] if base else []))
            # ``from pkg import module`` imports the module; the package
            # itself counts only for names that are not modules.
            names = ['%s.%s' % (base, a.name) if '%s.%s' % (base, a.name)
                     in known else base for a in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition('.')[0]
            if name and name != module:
                found.add(name)
    return found


def group(module):
    parts = module.split('.')
    return '.'.join(parts[:2]) if len(parts) > 1 else module


def cycles(graph):
    """Strongly connected components with more than one module."""
    index, low, stack, on, result = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            comp = []
            while True:
                top = stack.pop()
                on.discard(top)
                comp.append(top)
                if top == node:
                    break
            if len(comp) > 1:
                result.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = dict(modules(root))
    known = set(paths)
    graph = {m: imports_of(m, p, known) for m, p in paths.items()}
    edges = {}
    for module, targets in graph.items():
        for target in targets:
            a, b = group(module), group(target)
            if a != b and not b == PACKAGE:
                edges.setdefault(a, set()).add(b)
    print('subpackage imports:')
    for a in sorted(edges):
        print('  %-28s -> %s' % (a, ', '.join(sorted(edges[a]))))
    found = cycles(graph)
    print('module cycles: %s' % (len(found) or 'none'))
    for comp in found:
        print('  ' + ' <-> '.join(comp))
    if '--modules' in argv:
        print('module sizes (lines):')
        for module, path in sorted(paths.items()):
            print('  %5d  %s' % (sum(1 for _ in open(path)), module))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

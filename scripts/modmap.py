#!/usr/bin/env python3
"""Module map of a crate's src/: lines per top-level module and the import
cycles between top-level modules (strongly connected components of the graph
built from `crate::X` paths).  Usage: scripts/modmap.py [src-dir ...]"""
import os
import re
import sys

USE = re.compile(r"\b(?:crate|super)::(?:\{)?([a-z_][a-z0-9_]*)")
GROUP = re.compile(r"\bcrate::\{([^}]*)\}", re.S)


def top_of(root, path):
    rel = os.path.relpath(path, root)
    head = rel.split(os.sep)[0]
    return head[:-3] if head.endswith(".rs") else head


def scan(root):
    lines, edges = {}, {}
    for d, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".rs"):
                continue
            p = os.path.join(d, f)
            m = top_of(root, p)
            if m in ("lib", "main"):
                continue
            text = open(p, encoding="utf-8").read()
            lines[m] = lines.get(m, 0) + text.count("\n")
            deps = set()
            for g in GROUP.findall(text):
                for part in g.split(","):
                    name = part.strip().split("::")[0].strip()
                    if name:
                        deps.add(name)
            for name in re.findall(r"\bcrate::([a-z_][a-z0-9_]*)", text):
                deps.add(name)
            edges.setdefault(m, set()).update(deps)
    for m in edges:
        edges[m] = {d for d in edges[m] if d in lines and d != m}
    return lines, edges


def sccs(edges):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main():
    roots = sys.argv[1:] or ["src"]
    for root in roots:
        lines, edges = scan(root)
        print(f"# {root}: {sum(lines.values())} lines in {len(lines)} top-level modules")
        for m in sorted(lines, key=lambda k: -lines[k]):
            deps = ", ".join(sorted(edges.get(m, ())))
            print(f"{lines[m]:7d}  {m:14s} -> {deps}")
        cycles = sccs(edges)
        print(f"import cycles: {len(cycles)}")
        for c in cycles:
            print("  {" + ", ".join(c) + "}")


if __name__ == "__main__":
    main()

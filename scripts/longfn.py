#!/usr/bin/env python3
"""Functions longer than a limit (default 120 lines) in Rust sources, test
modules excluded.  Usage: scripts/longfn.py [--limit N] dir ...
Brace matching skips strings, chars and comments well enough for this code."""
import os
import re
import sys

FN = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+\"C\"\s+)?fn\s+([A-Za-z0-9_]+)")


def strip(line, state):
    """Remove comments and string contents; state tracks block comments and raw strings."""
    out, i = [], 0
    while i < len(line):
        if state["block"]:
            j = line.find("*/", i)
            if j < 0:
                return "".join(out)
            state["block"] = False
            i = j + 2
            continue
        if state["str"]:
            if line[i] == "\\":
                i += 2
                continue
            if line[i] == '"':
                state["str"] = False
            i += 1
            continue
        c = line[i]
        if line.startswith("//", i):
            break
        if line.startswith("/*", i):
            state["block"] = True
            i += 2
            continue
        m = re.match(r"r(#*)\"", line[i:])
        if m and (i == 0 or not (line[i - 1].isalnum() or line[i - 1] == "_")):
            end = '"' + m.group(1)
            j = line.find(end, i + len(m.group(0)))
            if j < 0:
                state["raw"] = end
                return "".join(out)
            i = j + len(end)
            continue
        if c == '"':
            state["str"] = True
            i += 1
            continue
        if c == "'" and re.match(r"'(\\.|[^\\'])'", line[i:]):
            i += len(re.match(r"'(\\.|[^\\'])'", line[i:]).group(0))
            continue
        out.append(c)
        i += 1
    return "".join(out)


def scan(path, limit):
    lines = open(path, encoding="utf-8").read().split("\n")
    state = {"block": False, "str": False, "raw": None}
    depth, fns, test_depth = 0, [], None
    pending_test = False
    for n, raw in enumerate(lines, 1):
        if state["raw"]:
            j = raw.find(state["raw"])
            if j < 0:
                continue
            raw = raw[j + len(state["raw"]):]
            state["raw"] = None
        if "#[cfg(test)]" in raw:
            pending_test = True
        line = strip(raw, state)
        m = FN.match(line)
        if m and test_depth is None:
            fns.append([m.group(1), n, depth, None])
        if pending_test and re.search(r"\bmod\s+\w+\s*\{", line):
            test_depth = depth
            pending_test = False
        for c in line:
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if test_depth is not None and depth == test_depth:
                    test_depth = None
                for f in fns:
                    if f[3] is None and f[2] == depth and f[1] != n or (f[3] is None and f[2] == depth and f[1] == n):
                        pass
                for f in reversed(fns):
                    if f[3] is None and depth == f[2]:
                        f[3] = n
                        break
        # fn without body (trait decl) ends with ';' at same depth
        for f in fns:
            if f[3] is None and f[1] == n and line.rstrip().endswith(";") and "{" not in line:
                f[3] = n
    return [(f[0], f[1], f[3] - f[1] + 1) for f in fns if f[3] and f[3] - f[1] + 1 > limit]


def main():
    args = sys.argv[1:]
    limit = 120
    if args[:1] == ["--limit"]:
        limit = int(args[1])
        args = args[2:]
    found = []
    for root in args:
        for d, _, files in os.walk(root):
            for f in sorted(files):
                if f.endswith(".rs"):
                    p = os.path.join(d, f)
                    for name, line, length in scan(p, limit):
                        found.append((length, f"{p}:{line}", name))
    for length, where, name in sorted(found, reverse=True):
        print(f"{length:5}  {name:32} {where}")
    print(f"functions over {limit} lines: {len(found)}")


if __name__ == "__main__":
    main()

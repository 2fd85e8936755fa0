#!/usr/bin/env python3
"""Finds import cycles between the modules of each crate (a module never imports from a module
that imports it, directly or through others). Edges are every `crate::…`, `super::…` and
`self::…` path in the code (`use` items and qualified paths alike), resolved to the deepest module
that exists; comments and string literals are ignored, and `#[cfg(test)] mod tests` blocks are
skipped (a test module may import from anywhere above it). Exits 1 and prints each cycle found.

Usage: scripts/module-cycles.py [crates/<name> ...]   (default: every crate under crates/)
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PATH_RE = re.compile(r"\b(crate|super|self)((?:::\w+)+)")
BARE_RE = re.compile(r"(?<![:\w])(?!crate\b|super\b|self\b)([a-z_]\w*)((?:::\w+)+)")
USE_GROUP_RE = re.compile(r"\buse\s+(crate|super|self)((?:::\w+)*)::\{([^;]*)\};", re.S)


def strip(code):
    """Removes comments, string/char literals and `#[cfg(test)] mod … { … }` blocks."""
    code = re.sub(r"//[^\n]*", "", code)
    code = re.sub(r"/\*.*?\*/", "", code, flags=re.S)
    code = re.sub(r'r(#*)".*?"\1', '""', code, flags=re.S)
    code = re.sub(r'"(?:\\.|[^"\\])*"', '""', code, flags=re.S)
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", code):
        if m.start() < i:
            continue
        out.append(code[i:m.start()])
        depth, j = 1, m.end()
        while j < len(code) and depth:
            depth += {"{": 1, "}": -1}.get(code[j], 0)
            j += 1
        i = j
    out.append(code[i:])
    return "".join(out)


def modules(src):
    """Maps each module path (tuple) to its file, for one crate's src directory."""
    found = {}
    for dirpath, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, name), src)
            parts = rel[:-3].split(os.sep)
            if parts[0] == "bin" or parts[-1] == "main" and len(parts) == 1:
                continue
            if parts[-1] in ("mod", "lib"):
                parts = parts[:-1]
            found[tuple(parts)] = os.path.join(dirpath, name)
    return found


def resolve(mods, base, segments):
    """The deepest existing module named by `base + segments`."""
    path = list(base)
    best = tuple(base) if tuple(base) in mods else None
    for seg in segments:
        path.append(seg)
        if tuple(path) in mods:
            best = tuple(path)
        else:
            break
    return best


def edges_of(mods, module, code):
    out = set()
    here = list(module)

    def target(kind, rest):
        segs = [s for s in rest.split("::") if s]
        if kind == "crate":
            base = []
        elif kind == "self":
            base = here
        else:
            base = here[:-1]
            while segs and segs[0] == "super":
                base = base[:-1]
                segs = segs[1:]
        return resolve(mods, base, segs)

    for m in USE_GROUP_RE.finditer(code):
        kind, prefix, group = m.group(1), m.group(2), m.group(3)
        for item in re.split(r",", re.sub(r"\{[^}]*\}", "", group)):
            item = item.strip().split(" as ")[0]
            if item and item != "self":
                t = target(kind, prefix + "::" + item)
            else:
                t = target(kind, prefix)
            if t is not None:
                out.add(t)
    code = USE_GROUP_RE.sub("", code)
    for m in PATH_RE.finditer(code):
        t = target(m.group(1), m.group(2))
        if t is not None:
            out.add(t)
    # Paths that start at a child module (`child::item`, `use child::Item` in a `mod.rs`).
    for m in BARE_RE.finditer(code):
        segs = [m.group(1)] + [s for s in m.group(2).split("::") if s]
        if tuple(here + segs[:1]) in mods:
            out.add(resolve(mods, here, segs))
    # Importing an ancestor's own items (`use super::HELPER`) is a real edge; only the module
    # itself is not.
    return {t for t in out if t != module}


def cycles(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def name(module):
    return "::".join(module) or "(crate root)"


def main():
    crates = sys.argv[1:] or sorted(
        os.path.join("crates", c) for c in os.listdir(os.path.join(ROOT, "crates"))
    )
    bad = 0
    for crate in crates:
        src = os.path.join(ROOT, crate, "src")
        if not os.path.isdir(src):
            continue
        mods = modules(src)
        graph = {}
        for module, path in mods.items():
            with open(path, encoding="utf-8") as f:
                code = strip(f.read())
            graph[module] = edges_of(mods, module, code)
        # The crate root only declares and re-exports; its edges are not imports.
        graph[()] = set()
        found = cycles(graph)
        for comp in found:
            bad += 1
            members = sorted(comp)
            detail = []
            for a in members:
                for b in sorted(graph[a] & set(comp)):
                    detail.append(f"{name(a)} -> {name(b)}")
            print(f"{crate}: cycle of {len(comp)} modules: " + ", ".join(name(m) for m in members))
            for d in detail:
                print(f"    {d}")
        print(f"{crate}: {len(mods)} modules, {sum(len(e) for e in graph.values())} imports, {len(found)} cycles", file=sys.stderr)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

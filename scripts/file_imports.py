#!/usr/bin/env python3
"""File-level import graph of src/ (run by scripts/test.sh): which .rs file uses an item of which other .rs file, through
`crate::a::b`, `super::x` or a child module `x::` named in the file. Prints the circles (strongly
connected components of more than one file) and exits 1 if there is any. A `pub use` re-export
counts as an edge from the re-exporting file; `mod x;` declarations alone do not."""
import os, re, sys

args = [a for a in sys.argv[1:] if not a.startswith("-")]
src = args[0] if args else "src"
files = {}
for root, _, names in os.walk(src):
    for n in names:
        if n.endswith(".rs"):
            rel = os.path.relpath(os.path.join(root, n), src)
            parts = rel[:-3].split(os.sep)
            if parts[-1] in ("mod", "lib", "main"):
                parts = parts[:-1]
            files[tuple(parts)] = os.path.join(src, rel)

def resolve(path):
    """The deepest file that a module path (tuple) falls in."""
    for i in range(len(path), 0, -1):
        if path[:i] in files:
            return path[:i]
    return None

def strip_tests(text):
    text = re.sub(r"#\[cfg\(test\)\]\s*mod\s+tests\s*\{.*", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"pub\(in crate(::\w+)*\)", "pub", text)
    return text

edges = {f: set() for f in files}
ident = r"[a-z_][a-z0-9_]*"
for mod, path in files.items():
    text = strip_tests(open(path, encoding="utf-8").read())
    # the module this file's `super` points at
    is_dir_mod = path.endswith("mod.rs") or path.endswith("lib.rs")
    # `super` of foo/bar.rs and of foo/bar/mod.rs is foo: the parent module either way.
    sup = mod[:-1]
    targets = set()
    for m in re.finditer(r"crate((?:::" + ident + r")+)", text):
        targets.add(resolve(tuple(m.group(1).split("::")[1:])))
    for block in re.findall(r"use\s+crate::\{([^;]*)\};", text, flags=re.S):
        for m in re.finditer(r"(" + ident + r"(?:::" + ident + r")*)", block):
            targets.add(resolve(tuple(m.group(1).split("::"))))
    for m in re.finditer(r"super((?:::" + ident + r")+)", text):
        targets.add(resolve(sup + tuple(m.group(1).split("::")[1:])))
    if re.search(r"\bsuper::\*", text):
        targets.add(resolve(sup) if sup else None)
    for m in re.finditer(r"\bsuper::\{([^;]*)\}", text, flags=re.S):
        for item in m.group(1).replace("{", ",").replace("}", ",").split(","):
            path = re.match(r"\s*(" + ident + r"(?:::" + ident + r")*)", item)
            if path:
                targets.add(resolve(sup + tuple(path.group(1).split("::"))))
    # children used by name: `routes::index`, `self::x::`
    children = {k[-1] for k in files if len(k) == len(mod) + 1 and k[:-1] == mod} if is_dir_mod else set()
    for c in children:
        if re.search(r"(?<![:\w])" + c + r"::", text):
            targets.add(mod + (c,))
    for t in targets:
        if t is not None and t != mod and t != ():
            edges[mod].add(t)

index, low, stack, on, sccs, i = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = i[0]; i[0] += 1; stack.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in sorted(files):
    if v not in index: visit(v)
name = lambda x: "/".join(x) or "lib"
# The core (ARCHITECTURE.md) imports only the core: no web, no state, no domain.
CORE = {"db", "audit", "calendar", "auth", "clock", "error", "pdf", "mail"}
bad = sorted(
    f"{name(a)} -> {name(b)}"
    for a, targets in edges.items()
    if a and a[0] in CORE
    for b in targets
    if b and b[0] not in CORE
)
for line in bad:
    print("core imports non-core: " + line)
for c in sccs:
    print("circle: " + " <-> ".join(name(x) for x in c))
    if "-v" in sys.argv:
        for a in c:
            for b in sorted(edges[a] & set(c)):
                print(f"    {name(a)} -> {name(b)}")
if sccs or bad:
    sys.exit(1)
print(f"file imports ok: {len(files)} files, no circle, the core imports only the core")

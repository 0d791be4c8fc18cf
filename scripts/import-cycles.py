#!/usr/bin/env python3
"""Import circles between the modules of a Rust crate.

Usage: scripts/import-cycles.py [-v] CRATE_DIR...

Reads CRATE_DIR/src/**/*.rs, maps every module to the modules it names, and prints each
circle: a set of modules that reach one another (a strongly connected component of more
than one module) through an edge between two modules neither of which contains the other.
Exits 1 if there is any, 0 if none, 2 on a usage error. `-v` also prints every edge.

What counts:
- A module is a file: `a/b.rs` is `a::b`, `a/mod.rs` is `a`, `lib.rs` (or `main.rs` where
  there is no `lib.rs`) is the crate root. An inline `mod x { ... }` (a `mod tests`) is part
  of the file it is written in, so what a test names counts for its file.
- Module A names module B through `use crate::...`, `use super::...`, `use self::...`, a
  `crate::b::` / `super::b::` / `self::b::` path anywhere in the code, or a path starting with
  one of A's own submodules (`respond::write(..)` in `front/mod.rs`). A path names the deepest
  module it passes through; a name the module re-exports or imports (`pub use request::Door`
  in `front/mod.rs`) is followed to where it comes from, so `crate::front::Door` names
  `front::request`. Comments, doc links and string literals name nothing; other crates are
  not looked at.
- A module and the modules inside it are one family: a `mod.rs` dispatching to its
  submodules while they use the types it declares is how a Rust module tree is laid out, and
  is not reported. A circle is reported when it runs through an edge between two modules
  neither of which contains the other (siblings, or different branches of the tree): every
  edge inside a strongly connected component lies on some circle, so the component is
  reported with those edges and one circle through the first of them.
"""

import os
import re
import sys
from collections import defaultdict, deque

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# ---------------------------------------------------------------------------------------
# Lexing: Rust source to a list of (kind, text, line) tokens without comments or literals.


def tokens(src):
    """Identifiers, `::` and single punctuation characters; literals become one 'lit' token."""
    out = []
    i, n, line = 0, len(src), 1
    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if src.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif src.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    line += src[i] == "\n"
                    i += 1
        elif re.match(r'(b|c)?r#*"', src[i : i + 260]):
            m = re.match(r'(b|c)?r(#*)"', src[i:])
            end = '"' + m.group(2)
            j = src.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            line += src.count("\n", i, j)
            out.append(("lit", "", line))
            i = j
        elif c == '"' or (c in "bc" and src.startswith('"', i + 1)):
            j = i + (1 if c == '"' else 2)
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            line += src.count("\n", i, j)
            out.append(("lit", "", line))
            i = j + 1
        elif c == "'" or (c == "b" and src.startswith("'", i + 1)):
            # A char literal ('a', '\n', '\u{1F600}', b'x'), or a lifetime / label ('a).
            k = i + (1 if c == "'" else 2)
            m = re.match(r"(\\(u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'])'", src[k : k + 12])
            if m:
                out.append(("lit", "", line))
                i = k + m.end()
            else:
                i = k  # a lifetime: the identifier after it is harmless
        elif c.isalpha() or c == "_":
            m = IDENT.match(src, i)
            word = m.group(0)
            # Raw identifiers (r#type) are identifiers.
            if word == "r" and src.startswith("#", m.end()) and IDENT.match(src, m.end() + 1):
                m = IDENT.match(src, m.end() + 1)
                word = m.group(0)
            out.append(("id", word, line))
            i = m.end()
        elif c.isdigit():
            m = re.match(r"[0-9][0-9A-Za-z_.]*", src[i:])
            out.append(("lit", "", line))
            i += m.end()
        elif src.startswith("::", i):
            out.append(("p", "::", line))
            i += 2
        else:
            out.append(("p", c, line))
            i += 1
    return out


# ---------------------------------------------------------------------------------------
# The crate's modules.


class Module:
    def __init__(self, path, file):
        self.path = path  # tuple of segments, () for the crate root
        self.file = file
        self.children = set()  # names of submodules that are files
        self.imports = {}  # name -> (absolute path, line): what `use` brings into scope
        self.refs = []  # (absolute path, line): every path the module names


def name(path):
    return "::".join(path) or "crate"


def modules_of(crate_dir):
    src = os.path.join(crate_dir, "src")
    if not os.path.isdir(src):
        sys.exit(f"import-cycles: {crate_dir}: no src/ folder")
    has_lib = os.path.exists(os.path.join(src, "lib.rs"))
    mods = {}
    for root, dirs, files in os.walk(src):
        dirs.sort()
        rel = os.path.relpath(root, src)
        base = () if rel == "." else tuple(rel.split(os.sep))
        if base and base[0] == "bin":
            continue  # other crates (binaries) of the package
        for f in sorted(files):
            if not f.endswith(".rs"):
                continue
            stem = f[:-3]
            if not base and stem in ("lib", "main"):
                if stem == "main" and has_lib:
                    continue  # the binary: it uses the library from outside
                path = ()
            elif stem == "mod":
                path = base
            else:
                path = base + (stem,)
            if not all(IDENT.fullmatch(s) for s in path):
                continue  # not a module name (build scripts, fixtures)
            mods[path] = Module(path, os.path.join(root, f))
    for path in mods:
        if path:
            parent = mods.get(path[:-1])
            if parent:
                parent.children.add(path[-1])
    return mods


# ---------------------------------------------------------------------------------------
# Reading one file: its `use` trees and its paths.


def parse_use_tree(toks, i, prefix):
    """Parses a use tree at toks[i]; returns (list of (path, alias-or-None), next index)."""
    out = []
    path = list(prefix)
    while i < len(toks):
        kind, text, _ = toks[i]
        if kind == "p" and text == "{":
            i += 1
            while i < len(toks) and toks[i][1] != "}":
                sub, i = parse_use_tree(toks, i, path)
                out.extend(sub)
                if i < len(toks) and toks[i][1] == ",":
                    i += 1
            return out, i + 1
        if kind == "p" and text == "*":
            out.append((path + ["*"], None))
            return out, i + 1
        if kind == "p" and text == "::":
            i += 1
            continue
        if kind == "id":
            path.append(text)
            i += 1
            if i < len(toks) and toks[i][1] == "::":
                continue
            alias = None
            if i + 1 < len(toks) and toks[i][1] == "as":
                alias = toks[i + 1][1]
                i += 2
            out.append((path, alias))
            return out, i
        return out, i  # `;` or `,` or `}` ends it
    return out, i


def absolute(mod_path, inline_depth, segs, children):
    """Makes a path written in a module absolute (a tuple), or None if it leaves the crate."""
    if not segs:
        return None
    first = segs[0]
    if first == "crate":
        return tuple(segs[1:])
    if first in ("self", "super"):
        base = list(mod_path)
        depth = inline_depth
        while segs and segs[0] in ("self", "super"):
            if segs[0] == "super":
                if depth:
                    depth -= 1  # out of an inline `mod tests { .. }`: still this file
                elif base:
                    base.pop()
                else:
                    return None
            segs = segs[1:]
        return tuple(base) + tuple(segs)
    if inline_depth == 0 and first in children:
        return tuple(mod_path) + tuple(segs)
    return None


def read_module(mod):
    with open(mod.file, encoding="utf-8") as f:
        toks = tokens(f.read())
    # Inline modules: a stack of brace depths at which each `mod x {` opened.
    inline = []
    braces = 0
    i = 0
    while i < len(toks):
        kind, text, line = toks[i]
        if kind == "p" and text == "{":
            braces += 1
        elif kind == "p" and text == "}":
            braces -= 1
            if inline and inline[-1] == braces:
                inline.pop()
        elif kind == "id" and text == "mod" and i + 2 < len(toks) and toks[i + 1][0] == "id":
            if toks[i + 2][1] == "{":
                inline.append(braces)  # the `{` is counted next
            i += 2
            continue
        elif kind == "id" and text == "use" and (i == 0 or toks[i - 1][1] != "::"):
            trees, j = parse_use_tree(toks, i + 1, [])
            for segs, alias in trees:
                if segs and segs[-1] == "self":
                    segs = segs[:-1]
                    alias = alias or (segs[-1] if segs else None)
                target = absolute(mod.path, len(inline), segs, mod.children)
                if target is None:
                    continue
                mod.refs.append((target, line))
                local = alias or segs[-1]
                if not inline and local not in ("*", "_"):
                    mod.imports[local] = (target, line)
            i = j
            continue
        elif kind == "id" and (i == 0 or toks[i - 1][1] != "::"):
            # A path: ident (:: ident)+, naming a module when it starts with crate/self/super
            # or with one of this module's submodules. A lone `crate` or `super` is a
            # visibility (`pub(crate)`), a lone `self` a receiver: they name nothing.
            segs = [text]
            j = i + 1
            while j + 1 < len(toks) and toks[j][1] == "::" and toks[j + 1][0] == "id":
                segs.append(toks[j + 1][1])
                j += 2
            if len(segs) > 1:
                target = absolute(mod.path, len(inline), segs, mod.children)
                if target is not None:
                    mod.refs.append((target, line))
            i = j
            continue
        i += 1


# ---------------------------------------------------------------------------------------
# Resolving a path to the module it really names.


def resolve(mods, path, seen=None):
    """The deepest module `path` passes through, following imports and re-exports."""
    seen = seen or set()
    cur = ()
    for k, seg in enumerate(path):
        if cur + (seg,) in mods:
            cur = cur + (seg,)
            continue
        mod = mods.get(cur)
        if mod and seg in mod.imports and (cur, seg) not in seen:
            seen.add((cur, seg))
            target, _ = mod.imports[seg]
            return resolve(mods, target + tuple(path[k + 1 :]), seen)
        break
    return cur


def contains(outer, inner):
    return inner[: len(outer)] == outer


def graph(mods):
    edges = defaultdict(dict)  # src -> dst -> (file, line)
    for mod in mods.values():
        for target, line in mod.refs:
            dst = resolve(mods, target)
            if dst != mod.path and dst in mods and dst not in edges[mod.path]:
                edges[mod.path][dst] = (mod.file, line)
    return edges


def components(nodes, edges):
    """Tarjan's strongly connected components, iteratively."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, {}))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, {})))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def path_within(edges, comp, start, goal):
    """A shortest path start -> goal inside the component."""
    prev = {start: None}
    queue = deque([start])
    while queue:
        v = queue.popleft()
        if v == goal:
            break
        for w in sorted(edges.get(v, {})):
            if w in comp and w not in prev:
                prev[w] = v
                queue.append(w)
    out, v = [], goal
    while v is not None:
        out.append(v)
        v = prev.get(v)
    return out[::-1]


def check(crate_dir, verbose):
    mods = modules_of(crate_dir)
    for mod in mods.values():
        read_module(mod)
    edges = graph(mods)
    crate = os.path.basename(os.path.normpath(crate_dir))
    if verbose:
        for src in sorted(edges):
            for dst, (file, line) in sorted(edges[src].items()):
                print(f"{crate}: {name(src)} -> {name(dst)}  ({file}:{line})")
    found = 0
    for comp in components(mods.keys(), edges):
        if len(comp) < 2:
            continue
        members = set(comp)
        cross = [
            (s, d)
            for s in comp
            for d in sorted(edges.get(s, {}))
            if d in members and not contains(s, d) and not contains(d, s)
        ]
        if not cross:
            continue  # one family: a module and the modules inside it
        found += 1
        s, d = cross[0]
        circle = [s] + path_within(edges, members, d, s)
        print(f"{crate}: import circle among {', '.join(name(m) for m in comp)}")
        print(f"  for example: {' -> '.join(name(m) for m in circle)}")
        for s, d in cross:
            file, line = edges[s][d]
            print(f"  {name(s)} -> {name(d)}  ({file}:{line})")
    return found


def main(argv):
    verbose = "-v" in argv
    crates = [a for a in argv if a != "-v"]
    if not crates or any(a.startswith("-") for a in crates):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    found = sum(check(c, verbose) for c in crates)
    if found:
        print(f"import-cycles: {found} import circle(s)")
        return 1
    print(f"import-cycles: no import circles in {', '.join(crates)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

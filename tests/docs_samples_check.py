#!/usr/bin/env python3
"""Keeps the documentation's code honest: every ```cpp block in docs/*.md must appear, line for
line, in some examples/*.cpp file (which CI compiles and runs). A block may be indented less than
in the example (a function body shown on its own), but otherwise it must match exactly.

    docs_samples_check.py DOCS_DIR EXAMPLES_DIR
"""
import pathlib
import re
import sys

FENCE = re.compile(r"^```cpp[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


def blocks(markdown):
    for m in FENCE.finditer(markdown):
        line = markdown.count("\n", 0, m.start()) + 1
        yield line, m.group(1).rstrip("\n").split("\n")


def found_in(block, source_lines):
    """True when `block` matches consecutive source lines, all shifted by one common indent."""
    first = next((b for b in block if b.strip()), None)
    if first is None:
        return True
    n = len(block)
    for i in range(len(source_lines) - n + 1):
        line = source_lines[i]
        if not line.endswith(block[0]) or line[: len(line) - len(block[0])].strip():
            continue
        indent = line[: len(line) - len(block[0])]
        if all((s == indent + b) if b else not s.strip() for s, b in zip(source_lines[i:i + n], block)):
            return True
    return False


def main(docs_dir, examples_dir):
    sources = {p.name: p.read_text(encoding="utf-8").split("\n")
               for p in sorted(pathlib.Path(examples_dir).glob("*.cpp"))}
    checked, errors = 0, []
    for doc in sorted(pathlib.Path(docs_dir).glob("*.md")):
        for line, block in blocks(doc.read_text(encoding="utf-8")):
            checked += 1
            if not any(found_in(block, src) for src in sources.values()):
                errors.append(f"{doc.name}:{line}: this cpp block is not in any examples/*.cpp file "
                              f"(copy it from the example that CI compiles, or change the example):\n"
                              + "\n".join("    " + b for b in block[:8]))
    for e in errors:
        print(e)
    print(f"{checked} cpp blocks checked, {len(errors)} not found in examples/")
    return 1 if errors or checked == 0 else 0


if __name__ == "__main__":
    assert found_in(["int x;", "", "f(x);"], ["void g() {", "    int x;", "", "    f(x);", "}"])
    assert not found_in(["int x;", "f(x);"], ["    int x;", "  f(x);"])
    sys.exit(main(sys.argv[1], sys.argv[2]))

#!/usr/bin/env python3
"""No public signature names a detail:: type, nor a standard view type.

Clang parses a translation unit that includes every public header (all of include/vitals/ outside
the detail/ folders; framework adapters where the framework is installed) and dumps its AST as
JSON. Every declaration a user can reach is checked: functions and constructors (their whole
type, so parameters and return types), public data members, variables, and the defaults of
template parameters. What a user may not reach is skipped: `detail` namespaces, private and
protected members, function bodies, out-of-line definitions (their declaration is checked where
it stands) and template instantiations.

A public type alias is where an implementation type gets its public name (as the standard library
names its iterators), so an alias may name a detail:: type; every signature then uses the alias.
Types are checked as written, not desugared, for the same reason.

The public API speaks one vocabulary (issue #20; docs/performance.md, "The API's vocabulary"):
vitals::string_ref and vitals::span, never std::string_view or std::span, which cost every user
file compile time. So a checked declaration whose type as written names either (in any spelling:
std::string_view, std::basic_string_view<char>, string_view after a using-declaration, std::span)
fails too. No alias is exempt from this rule: an alias would bring the standard type back in.
Internals (function bodies, detail namespaces, private members) may use them freely.

    public_api_check.py INCLUDE_DIR CLANG++ [EXTRA_ARGS...]
"""
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

DETAIL = re.compile(r"\bdetail::")
# Clang writes a template specialization as spelled, so inside namespace vitals a bare `span<T>` is
# vitals::span (no public header brings std::span in); a bare `string_view` can only be std's.
STD_VIEW = re.compile(r"(?<![\w:])(?:::)?std::(?:basic_string_view|string_view|span)\b|"
                      r"(?<![\w:])(?:basic_string_view|string_view)\b")
CHECKED = {
    "FunctionDecl", "CXXMethodDecl", "CXXConstructorDecl", "CXXConversionDecl", "FieldDecl", "VarDecl",
    "NonTypeTemplateParmDecl",
}
# Adapters compile only where their framework is installed; __has_include keeps the unit valid.
FRAMEWORK = {
    "http/adapters/httplib.hpp": "httplib.h",
    "http/adapters/beast.hpp": "boost/beast.hpp",
    "http/adapters/civetweb.hpp": "civetweb.h",
    "health/asio.hpp": "boost/asio.hpp",
    "grpc/rpc_metrics.hpp": "grpcpp/grpcpp.h",
    "grpc/server_metrics.hpp": "grpcpp/grpcpp.h",
    "grpc/client_metrics.hpp": "grpcpp/grpcpp.h",
    # Generated from Debian's grpc-proto by the build (meson passes its directory).
    "grpc/health_service.hpp": "grpc/health/v1/health.grpc.pb.h",
}


def without_noexcept_conditions(written):
    """A function type as written, without the expressions of its noexcept(...) conditions: they
    name functions (detail::take_handle, say), not types a caller writes or receives."""
    out, i = [], 0
    while True:
        j = written.find("noexcept(", i)
        if j < 0:
            return "".join(out) + written[i:]
        out.append(written[i:j] + "noexcept(...)")
        depth, k = 1, j + len("noexcept(")
        while k < len(written) and depth:
            depth += {"(": 1, ")": -1}.get(written[k], 0)
            k += 1
        i = k


def public_headers(include_dir):
    root = pathlib.Path(include_dir) / "vitals"
    for header in sorted(root.rglob("*.hpp")):
        rel = header.relative_to(root)
        if "detail" in rel.parts:
            continue
        yield rel.as_posix()


def translation_unit(include_dir):
    lines = []
    for rel in public_headers(include_dir):
        framework = FRAMEWORK.get(rel)
        if framework:
            lines += [f"#if __has_include(<{framework}>)", f"#include <vitals/{rel}>", "#endif"]
        else:
            lines.append(f"#include <vitals/{rel}>")
    return "\n".join(lines) + "\n"


def dumped_nodes(text):
    """-ast-dump-filter prints one JSON object per matching top-level declaration."""
    decoder, i, nodes = json.JSONDecoder(), 0, []
    while True:
        i = text.find("{", i)
        if i < 0:
            return nodes
        node, i = decoder.raw_decode(text, i)
        nodes.append(node)


class Checker:
    def __init__(self):
        self.file = None
        self.findings = set()
        self.std_views = set()
        self.checked = 0

    def note_file(self, node):
        loc = node.get("loc", {})
        for where in (loc, loc.get("spellingLoc", {}), loc.get("expansionLoc", {})):
            if "file" in where:
                self.file = where["file"]
                return

    def report(self, path, node, written, alias=False):
        file = self.file or "?"
        if "/include/vitals/" not in file:
            return
        self.checked += 1
        where = file.split("/include/")[-1]
        where = os.path.normpath(where)
        finding = f"{where}: {'::'.join(p for p in path if p)}: {written}"
        if DETAIL.search(written) and not alias:
            self.findings.add(finding)
        if STD_VIEW.search(written):
            self.std_views.add(finding)

    def walk(self, node, path):
        self.note_file(node)
        kind = node.get("kind")
        if node.get("isImplicit") or "parentDeclContextId" in node:
            return
        if kind in ("ClassTemplateSpecializationDecl", "ClassTemplatePartialSpecializationDecl"):
            return
        name = node.get("name", "")
        if kind == "NamespaceDecl":
            if name != "detail":
                for child in node.get("inner", []):
                    self.walk(child, path + [name])
            return
        if kind in CHECKED:
            written = node.get("type", {}).get("qualType", "")
            self.report(path + [name], node, without_noexcept_conditions(written))
            return  # parameters are part of the function's type; bodies are not API
        if kind in ("TypeAliasDecl", "TypedefDecl"):
            written = node.get("type", {}).get("qualType", "")
            self.report(path + [name], node, without_noexcept_conditions(written), alias=True)
            return
        if kind == "TemplateTypeParmDecl":
            default = node.get("defaultArg", {}).get("type", {}).get("qualType", "")
            self.report(path + [name], node, default)
            return
        if kind == "CXXRecordDecl":
            public = node.get("tagUsed") != "class"
            for child in node.get("inner", []):
                if child.get("kind") == "AccessSpecDecl":
                    public = child.get("access") == "public"
                    self.note_file(child)
                elif public:
                    self.walk(child, path + [name])
                else:
                    self.note_file(child)
            return
        if kind in ("FunctionTemplateDecl", "ClassTemplateDecl", "TypeAliasTemplateDecl"):
            # The template's parameters, then its pattern; what follows are instantiations.
            for child in node.get("inner", []):
                self.walk(child, path)
                if child.get("kind") in ("FunctionDecl", "CXXMethodDecl", "CXXConstructorDecl", "CXXConversionDecl",
                                         "CXXRecordDecl", "TypeAliasDecl"):
                    break
            return
        if kind in ("LinkageSpecDecl", "ExportDecl"):
            for child in node.get("inner", []):
                self.walk(child, path)


def main(include_dir, cxx, *extra):
    with tempfile.TemporaryDirectory() as tmp:
        include_dir = os.path.abspath(include_dir)
        source = os.path.join(tmp, "public_api.cpp")
        with open(source, "w", encoding="utf-8") as f:
            f.write(translation_unit(include_dir))
        cmd = [cxx, "-std=c++20", "-fsyntax-only", f"-I{include_dir}", *extra, "-Xclang", "-ast-dump=json",
               "-Xclang", "-ast-dump-filter=vitals", source]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(out.stderr[-4000:])
            print("public_api_check: the public headers did not compile")
            return 1
    checker = Checker()
    nodes = dumped_nodes(out.stdout)
    for node in nodes:
        checker.walk(node, [])
    for finding in sorted(checker.findings):
        print("public API names a detail type:", finding)
    for finding in sorted(checker.std_views):
        print("public API names std::string_view or std::span (use string_ref, span):", finding)
    print(f"public_api_check: {checker.checked} declarations checked, {len(checker.findings)} name detail::, "
          f"{len(checker.std_views)} name std::string_view or std::span")
    # A dump that reached almost nothing means the walk is broken, not that the API is clean.
    if checker.checked < 500:
        print("public_api_check: too few declarations reached; the AST walk is broken")
        return 1
    return 1 if checker.findings or checker.std_views else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))

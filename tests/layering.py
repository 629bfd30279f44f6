#!/usr/bin/env python3
"""Layers only point down: every vitals header includes only headers of its own layer or below.

    base/        vocabulary and errors (string_ref, span, text_buffer, error), version.hpp
    detail/      shared internals: atomics, per-CPU cells, hashing, text, sockets, base64
    core/        metrics, families, registries
    exposition/  formats
    http/ health/ process/   integrations (each may use the others: the HTTP adapters serve health)
    push/        the Pushgateway client (same rank as the integrations)
    grpc/        gRPC interceptors and health service (above the integrations: it serves health's probe)
    status/      the status page (above http/ and health/, which it uses)
    vitals.hpp   the umbrella

A layer's own internals live in <layer>/detail/ (health/detail/: JSON and the digests of
PostgreSQL's login): only headers of that layer may include them.

    layering.py INCLUDE_DIR
"""
import pathlib
import re
import sys

# grpc/ (optional, needs libgrpc++) and status/ sit above the integrations they use.
RANK = {"base": 0, "detail": 1, "core": 2, "exposition": 3, "http": 4, "health": 4, "process": 4, "push": 4,
        "grpc": 5, "status": 5}
INCLUDE = re.compile(r'^\s*#\s*include\s+([<"])([^>"]+)[>"]', re.M)


def layer(rel):
    """The layer of a header, from its path below include/vitals/."""
    parts = rel.parts
    if len(parts) == 1:
        return ("umbrella", 5) if parts[0] == "vitals.hpp" else ("base", 0)
    return parts[0], RANK.get(parts[0], 99)


def main(include_dir):
    root = pathlib.Path(include_dir).resolve() / "vitals"
    errors, checked = [], 0
    for header in sorted(root.rglob("*.hpp")):
        rel = header.relative_to(root)
        name, rank = layer(rel)
        for kind, target in INCLUDE.findall(header.read_text(encoding="utf-8")):
            if kind == "<":
                if not target.startswith("vitals/"):
                    continue  # the standard library, POSIX, or a framework an adapter wraps
                resolved = (root.parent / target).resolve()
            else:
                resolved = (header.parent / target).resolve()
                if not resolved.exists():
                    resolved = (root.parent / target).resolve()
            try:
                trel = resolved.relative_to(root)
            except ValueError:
                errors.append(f"{rel}: includes {target}, which is outside include/vitals")
                continue
            tname, trank = layer(trel)
            checked += 1
            if name == "umbrella" and tname == "grpc":
                errors.append(f"{rel} includes {trel}: the umbrella stays free of optional frameworks (gRPC)")
            elif trank > rank:
                errors.append(f"{rel} ({name}) includes {trel} ({tname}), a higher layer")
            elif len(trel.parts) > 2 and trel.parts[1] == "detail" and trel.parts[0] != name:
                errors.append(f"{rel} ({name}) includes {trel}, an internal of {tname}/")
    for e in errors:
        print("layering:", e)
    print(f"layering: {checked} includes checked, {len(errors)} pointing up")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

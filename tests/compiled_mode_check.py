#!/usr/bin/env python3
"""Compiled mode leaves the cold code to libvitals: a user file built with -DVITALS_COMPILED
defines none of it, and links and runs against the library.

The file is bench/compile_cost.py's realistic one (a labelled counter, a histogram and a gauge,
updated, and a text render). After `-O2 -c`, its object file must not define the family code of
the kinds it uses, the registry's registration and render, the histogram layout, the number
formatting or the text render: those are what the compiled mode exists to keep out (and what
made the file cost 2.5x prometheus-cpp's). Then it is linked with libvitals and must render.

    compiled_mode_check.py CXX INCLUDE_DIR LIBVITALS [SANITIZE]

SANITIZE is the build's b_sanitize (none, address,undefined, thread): the program is built with
it too, since libvitals was.
"""
import os
import pathlib
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "bench"))
import compile_cost  # noqa: E402  (the realistic source, shared with the compile-cost figures)

COLD = [
    "vitals::detail::family_impl<vitals::detail::counter_series>::create",
    "vitals::detail::family_impl<vitals::detail::histogram_series>::collect",
    "vitals::detail::family_impl<vitals::detail::gauge_series>::reclaim",
    "vitals::registry::adopt",
    "vitals::registry::collect",
    "vitals::registry::~registry",
    "vitals::histogram_layout::histogram_layout",
    "vitals::family_base::family_base",
    "vitals::detail::format_double",
    "vitals::detail::text_writer<",
    "void vitals::render_text<",
]


def main(cxx, include, lib, sanitize="none"):
    san = [] if sanitize in ("", "none") else [f"-fsanitize={sanitize}"]
    text = compile_cost.SOURCES[("realistic", "vitals")]
    with tempfile.TemporaryDirectory() as tmp:
        src = pathlib.Path(tmp) / "realistic.cpp"
        src.write_text(text.replace("return out.empty();",
                                    'return out.find("http_in_flight 3\\n") == std::string::npos;'))
        obj, exe = str(src) + ".o", str(src) + ".exe"
        subprocess.run([cxx, "-std=c++20", "-O2", *san, "-DVITALS_COMPILED", "-I", include, "-c", str(src), "-o",
                        obj], check=True)
        defined = subprocess.run(["nm", "-C", "--defined-only", obj], check=True, capture_output=True,
                                 text=True).stdout
        found = [c for c in COLD if c in defined]
        for c in found:
            print(f"compiled mode: the user file defines {c} (it belongs in libvitals)")
        subprocess.run([cxx, *san, obj, lib, "-pthread", "-o", exe], check=True)
        run = subprocess.run([exe])
        if run.returncode != 0:
            print(f"compiled mode: the program linked with libvitals did not render the gauge (exit {run.returncode})")
        ok = not found and run.returncode == 0
        print(f"compiled mode: {len(COLD)} cold functions checked, none in the user file; links and renders"
              if ok else "compiled mode: FAILED")
        return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))

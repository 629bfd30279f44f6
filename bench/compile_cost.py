#!/usr/bin/env python3
"""Compile cost as users pay it, vitals beside prometheus-cpp, in paired runs.

Three translation units per library, each starting with the standard headers a real service
file already includes (<string> <vector> <memory> <mutex> <map> <functional> <chrono> <atomic>):

  baseline   those headers alone
  realistic  + the library: a labelled counter, a histogram and a gauge declared, updated, and
             the registry rendered as text
  handle     + only what updating a handle needs: a function that increments a counter whose
             family is declared elsewhere

Each is compiled with `c++ -std=c++20 -O2 -c` ROUNDS times, the libraries alternating within a
round so that machine noise falls on both; the figure is the median CPU time (user + system of
the compiler). Reported: medians, what each library adds over the baseline, and the ratio.
Reporting only (CI runs it, nothing gates on it):

    bench/compile_cost.py [--rounds N] [--cxx c++] [--include DIR]
"""
import argparse
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile

STD = """#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>
"""

SOURCES = {
    ("baseline", "none"): STD + "int main() { return 0; }\n",
    ("realistic", "vitals"): STD + """#include <vitals/vitals.hpp>
int main() {
    vitals::registry r;
    auto& requests = r.counter<"http_requests_total", vitals::labels<"method", "status">>("Requests.");
    requests.labels("GET", "200").inc();
    auto latency = r.histogram<"http_request_duration_seconds">("Latency.", {0.005, 0.01, 0.1, 1});
    latency.observe(0.02);
    auto in_flight = r.gauge<"http_in_flight">("In flight.");
    in_flight.set(3);
    std::string out;
    vitals::render_text(r, out);
    return out.empty();
}
""",
    ("realistic", "prometheus-cpp"): STD + """#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
int main() {
    prometheus::Registry r;
    auto& requests = prometheus::BuildCounter().Name("http_requests_total").Help("Requests.").Register(r);
    requests.Add({{"method", "GET"}, {"status", "200"}}).Increment();
    auto& latency = prometheus::BuildHistogram().Name("http_request_duration_seconds").Help("Latency.").Register(r);
    latency.Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.1, 1}).Observe(0.02);
    auto& in_flight = prometheus::BuildGauge().Name("http_in_flight").Help("In flight.").Register(r);
    in_flight.Add({}).Set(3);
    const std::string out = prometheus::TextSerializer().Serialize(r.Collect());
    return out.empty();
}
""",
    ("handle", "vitals"): STD + """#include <vitals/core/counter.hpp>
void served(const vitals::counter& requests) { requests.inc(); }
int main() { return 0; }
""",
    ("handle", "prometheus-cpp"): STD + """#include <prometheus/counter.h>
void served(prometheus::Counter& requests) { requests.Increment(); }
int main() { return 0; }
""",
}

# The same vitals files in compiled mode (VITALS_COMPILED: the cold code is in libvitals, as
# prometheus-cpp's is in its library), compiled with -DVITALS_COMPILED.
for _kind in ("realistic", "handle"):
    SOURCES[(_kind, "vitals compiled")] = SOURCES[(_kind, "vitals")]
EXTRA_FLAGS = {"vitals compiled": ["-DVITALS_COMPILED"]}

# Checked for warnings only (--check-warnings): shapes of user files that once made GCC warn. The
# registration-only file is the realistic one without the render (GCC 12 warned only there).
WARNING_SOURCES = {
    "registration_only": "".join(
        line for line in SOURCES[("realistic", "vitals")]
        .replace("#include <vitals/vitals.hpp>", "#include <vitals/core/registry.hpp>")
        .replace("return out.empty();", "return 0;")
        .splitlines(keepends=True)
        if "std::string out;" not in line and "render_text" not in line),
}

def cpu_seconds(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cxx", default=os.environ.get("CXX", "c++"))
    ap.add_argument("--include", default=str(pathlib.Path(__file__).resolve().parent.parent / "include"))
    ap.add_argument("--check-warnings", action="store_true",
                    help="instead of timing, compile the vitals files once at -O2 with -Wall -Wextra "
                         "-Wpedantic -Werror and fail on any diagnostic (a meson test runs this)")
    args = ap.parse_args()

    if args.check_warnings:
        # A warning that only optimisation finds (GCC's -Wstringop-overflow after inlining) shows
        # up in users' files, not in the library's own -fsyntax-only header checks.
        failed = 0
        with tempfile.TemporaryDirectory() as tmp:
            checked = {(kind, lib): text for (kind, lib), text in SOURCES.items() if lib.startswith("vitals")}
            checked.update({(kind, "vitals"): text for kind, text in WARNING_SOURCES.items()})
            for (kind, lib), text in checked.items():
                f = pathlib.Path(tmp) / f"{kind}_{lib.replace(' ', '_')}.cpp"
                f.write_text(text)
                for opt in ("-O1", "-O2", "-O3"):
                    r = subprocess.run([args.cxx, "-std=c++20", opt, "-Wall", "-Wextra", "-Wpedantic", "-Werror",
                                        *EXTRA_FLAGS.get(lib, []), "-I", args.include, "-c", str(f), "-o",
                                        str(f) + ".o"],
                                       capture_output=True, text=True)
                    if r.returncode != 0 or r.stderr.strip():
                        failed += 1
                        print(f"compile_cost: {kind} at {opt} ({args.cxx}):\n{r.stderr}")
        print(f"compile_cost: user files compiled warning-free: {'no' if failed else 'yes'}")
        return 1 if failed else 0

    med = measure(args.cxx, args.include, args.rounds)
    if med is None:
        return 1
    print(f"compile cost, CPU seconds at -O2, median of {args.rounds} paired rounds ({args.cxx})")
    for line in report(med):
        print(line)
    return 0


def measure(cxx, include, rounds):
    """Median CPU seconds of each (kind, library) file, compiled in `rounds` alternating rounds;
    None when one fails to compile (prometheus-cpp missing, say)."""
    times = {key: [] for key in SOURCES}
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for (kind, lib), text in SOURCES.items():
            f = pathlib.Path(tmp) / f"{kind}_{lib.replace('-', '_').replace(' ', '_')}.cpp"
            f.write_text(text)
            files[(kind, lib)] = f
        for _ in range(rounds):
            for key, f in files.items():
                cmd = [cxx, "-std=c++20", "-O2", *EXTRA_FLAGS.get(key[1], []), "-I", include, "-c", str(f), "-o",
                       str(f) + ".o"]
                try:
                    times[key].append(cpu_seconds(cmd))
                except (subprocess.CalledProcessError, FileNotFoundError) as e:
                    print(f"compile_cost: {key} failed to compile ({e}); is prometheus-cpp-dev installed?",
                          file=sys.stderr)
                    return None
    return {key: statistics.median(v) for key, v in times.items()}


def report(med):
    """The measured medians as lines of text: each file, what it adds over the standard headers
    alone, and its ratio to prometheus-cpp's."""
    base = med[("baseline", "none")]
    lines = [f"  standard headers alone: {base:.2f} s"]
    for kind in ("realistic", "handle"):
        p = med[(kind, "prometheus-cpp")]
        lines.append(f"  {kind:9s}  prometheus-cpp  {p:.2f} s (+{p - base:.2f})")
        for lib in ("vitals", "vitals compiled"):
            v = med[(kind, lib)]
            lines.append(f"  {'':9s}  {lib:15s} {v:.2f} s (+{v - base:.2f})   {lib}/prometheus-cpp {v / p:.2f}x")
    return lines


if __name__ == "__main__":
    sys.exit(main())

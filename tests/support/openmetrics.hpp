// Test support: parses an OpenMetrics exposition with the strict parser of the Python client
// (Debian's python3-prometheus-client), run by /usr/bin/python3 so that a different python3 first
// on PATH cannot hide it.
#pragma once

#include <string>

#include "promtool.hpp"

namespace vitals_test {

/// What the parser said: ok, or the error it raised.
struct openmetrics_parse {
    bool ok = false;
    bool parser_missing = false;  ///< python3 or prometheus_client is not installed
    std::string output;           ///< The families found (one per line) or the error.
};

/// Parses `text` with prometheus_client.openmetrics.parser. The parser is lazy, so the script
/// consumes every family (and sample) before declaring success.
inline openmetrics_parse openmetrics_check(const std::string& text) {
    static const char* script =
        "import sys\n"
        "try:\n"
        "    from prometheus_client.openmetrics.parser import text_string_to_metric_families\n"
        "except ImportError as e:\n"
        "    print('MISSING', e); sys.exit(3)\n"
        "data = sys.stdin.buffer.read().decode('utf-8')\n"
        "try:\n"
        "    for f in text_string_to_metric_families(data):\n"
        "        print(f.name, f.type, f.unit, len(f.samples))\n"
        "        for s in f.samples: pass\n"
        "except Exception as e:\n"
        "    print('ERROR', type(e).__name__, e); sys.exit(1)\n";
    const auto r = run_process({"/usr/bin/python3", "-c", script}, text);
    openmetrics_parse p;
    p.ok = r.exit_code == 0;
    p.parser_missing = r.exit_code == 3 || r.exit_code == 127;
    p.output = r.output;
    return p;
}

}  // namespace vitals_test

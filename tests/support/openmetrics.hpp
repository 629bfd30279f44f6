// Test support: parses an OpenMetrics exposition with the strict parser of the Python client
// (Debian's python3-prometheus-client), run by /usr/bin/python3 so that a different python3 first
// on PATH cannot hide it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "promtool.hpp"

namespace vitals_test {

/// What the parser said: ok, or the error it raised.
struct openmetrics_parse {
    bool ok = false;
    bool parser_missing = false;  ///< python3 or prometheus_client is not installed
    std::string output;           ///< The families found (one per line) or the error.
};

// The script prologue both checks share: the parser, or exit 3 when it is not installed.
inline constexpr const char* openmetrics_parser_import =
    "import sys\n"
    "try:\n"
    "    from prometheus_client.openmetrics.parser import text_string_to_metric_families\n"
    "except ImportError as e:\n"
    "    print('MISSING', e); sys.exit(3)\n";

/// Parses `text` with prometheus_client.openmetrics.parser. The parser is lazy, so the script
/// consumes every family (and sample) before declaring success.
inline openmetrics_parse openmetrics_check(const std::string& text) {
    static const std::string script = std::string(openmetrics_parser_import) +
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

/// Parses each of `texts` with the same parser in one Python process (starting one per render
/// would dominate a sweep of thousands). One result per text, in order; all `parser_missing`
/// when python3 or prometheus_client is absent.
inline std::vector<openmetrics_parse> openmetrics_check_many(const std::vector<std::string>& texts) {
    static const std::string script = std::string(openmetrics_parser_import) +
                                      "data = sys.stdin.buffer.read()\n"
                                      "pos = 0\n"
                                      "while pos < len(data):\n"
                                      "    n = int.from_bytes(data[pos:pos + 8], 'little'); pos += 8\n"
                                      "    body = data[pos:pos + n]; pos += n\n"
                                      "    try:\n"
                                      "        for f in text_string_to_metric_families(body.decode('utf-8')):\n"
                                      "            for s in f.samples: pass\n"
                                      "        print('OK')\n"
                                      "    except Exception as e:\n"
                                      "        print('ERROR', type(e).__name__, repr(str(e))[:300])\n";
    std::string input;
    for (const std::string& t : texts) {
        std::uint64_t n = t.size();
        for (int i = 0; i < 8; ++i) input += static_cast<char>((n >> (8 * i)) & 0xff);
        input += t;
    }
    const auto r = run_process({"/usr/bin/python3", "-c", script}, input, 120000);
    std::vector<openmetrics_parse> out(texts.size());
    if (r.exit_code == 3 || r.exit_code == 127) {
        for (auto& p : out) p.parser_missing = true, p.output = r.output;
        return out;
    }
    std::size_t i = 0, pos = 0;
    while (i < out.size() && pos < r.output.size()) {
        std::size_t nl = r.output.find('\n', pos);
        if (nl == std::string::npos) nl = r.output.size();
        const std::string line = r.output.substr(pos, nl - pos);
        pos = nl + 1;
        out[i].ok = line == "OK";
        out[i].output = line;
        ++i;
    }
    for (; i < out.size(); ++i)
        out[i].output = "no verdict (python exited " + std::to_string(r.exit_code) + "): " + r.output.substr(0, 500);
    return out;
}

}  // namespace vitals_test

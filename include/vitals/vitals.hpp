// vitals — the core in one include: counters, gauges, histograms, callback metrics, label sets,
// registries and the text exposition, with the small string, list and
// error types their API uses (string_ref, span, text_buffer, const_labels, vitals::error). Kept
// cheap to compile: no <string>, <string_view>, <vector>, <span> or <stdexcept> (see
// docs/performance.md); summaries, native histograms, info and stateset metrics
// (core/<kind>.hpp), the other formats (exposition/), HTTP (the operational bundle included:
// http/operational.hpp), health and process metrics have headers of their own.
#pragma once

#include "core/callback.hpp"
#include "core/const_labels.hpp"
#include "core/counter.hpp"
#include "base/error.hpp"
#include "core/family.hpp"
#include "core/gauge.hpp"
#include "core/histogram.hpp"
#include "core/names.hpp"
#include "core/registry.hpp"
#include "base/span.hpp"
#include "base/string_ref.hpp"
#include "base/text_buffer.hpp"
#include "exposition/text.hpp"
#include "version.hpp"

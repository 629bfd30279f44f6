// vitals — the core in one include: counters, gauges, histograms, callback metrics, label sets,
// registries, the operational bundle and the text exposition. Kept cheap to compile: summaries,
// native histograms, info and stateset metrics (core/<kind>.hpp), the other formats
// (exposition/), HTTP, health and process metrics have headers of their own.
#pragma once

#include "core/callback.hpp"
#include "core/counter.hpp"
#include "core/family.hpp"
#include "core/gauge.hpp"
#include "core/histogram.hpp"
#include "core/names.hpp"
#include "core/operational.hpp"
#include "core/registry.hpp"
#include "exposition/text.hpp"
#include "version.hpp"

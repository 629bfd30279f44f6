// vitals — the whole core in one include: metric types, label sets, registries and the text
// exposition. Heavier, optional parts (HTTP adapters, health checks over sockets, other formats)
// have headers of their own.
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

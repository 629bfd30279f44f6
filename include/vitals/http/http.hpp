// vitals — HTTP instrumentation without any framework: instrumentation and routes, the
// request_timer guard, the instrument() wrapper, route templates and the metrics endpoint.
// Framework adapters are in adapters/, one header each, for programs using that framework.
#pragma once

#include "instrument.hpp"
#include "instrumentation.hpp"
#include "metrics_endpoint.hpp"
#include "request_timer.hpp"
#include "route_template.hpp"

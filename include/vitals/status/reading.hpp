// vitals — what the status page reads from a registry: the names it looks for and the values one
// reading yields (status_data and history_view hand these out).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace vitals::status {

/// The metric and label names the page reads (history_options::names): the HTTP instrumentation's
/// and the process metrics' by default; change them for a registry that names its metrics otherwise.
struct metric_names {
    std::string duration = "http_request_duration_seconds";    ///< histogram{method,endpoint}
    std::string failures = "http_requests_failed_total";       ///< counter{method,endpoint,error_type}
    std::string method_label = "method";                       ///< the HTTP method label
    std::string route_label = "endpoint";                      ///< the route label
    std::string error_label = "error_type";                    ///< the failure kind label
    std::string uptime = "uptime_seconds";                     ///< gauge{service}
    std::string starts = "service_starts_total";               ///< counter{service}
    std::string service_label = "service";                     ///< the logical service label
    std::string process_start = "process_start_time_seconds";  ///< gauge: the process start, Unix seconds
    std::string build_suffix = "_build_info";                  ///< gauges whose labels are build facts
    std::string environment_label = "environment";             ///< a const label
};

/// One route's counts as one reading of the registry saw them.
struct route_sample {
    std::string method;                                    ///< The method label value.
    std::string endpoint;                                  ///< The route label value.
    std::vector<double> bounds;                            ///< finite upper bounds
    std::vector<std::uint64_t> cumulative;                 ///< one per bound, then +Inf (the count)
    std::vector<std::pair<std::string, double>> failures;  ///< by error type
};

/// A logical service's uptime and start count.
struct service_sample {
    std::string name;                                          ///< The service label value.
    double uptime = std::numeric_limits<double>::quiet_NaN();  ///< Seconds; NaN when not exported.
    double starts = 0;                                         ///< Starts counted so far.
};

/// One build-info series: the family's name and its label pairs.
struct build_sample {
    std::string metric;                                       ///< The family name.
    std::vector<std::pair<std::string, std::string>> labels;  ///< Its label pairs, in order.
};

/// Everything one reading of the registry yields for the page.
struct reading {
    std::string service;                                              ///< The registry's `service` const label.
    std::string environment;                                          ///< Its environment const label.
    std::vector<build_sample> build;                                  ///< Every build-info series.
    std::vector<service_sample> services;                             ///< Every logical service's uptime and starts.
    double process_start = std::numeric_limits<double>::quiet_NaN();  ///< Unix seconds; NaN if unknown.
    std::vector<route_sample> routes;                                 ///< Every route's counts.
    std::size_t routes_dropped = 0;                                   ///< past max_routes
};

}  // namespace vitals::status

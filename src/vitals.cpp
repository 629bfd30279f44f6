// libvitals: the cold code of vitals built once, for programs that use the compiled mode
// (VITALS_COMPILED; see include/vitals/base/config.hpp). Header-only use needs none of this.
#define VITALS_BUILDING_LIBRARY

#include <string>

#include <vitals/core/info.hpp>
#include <vitals/core/native_histogram.hpp>
#include <vitals/core/stateset.hpp>
#include <vitals/core/summary.hpp>
#include <vitals/vitals.hpp>

namespace vitals {

// The family code of every built-in kind (what extern template declares in the headers).
template class detail::family_impl<detail::counter_series>;
template class detail::family_impl<detail::gauge_series>;
template class detail::family_impl<detail::histogram_series>;
template class detail::family_impl<detail::summary_series>;
template class detail::family_impl<detail::native_histogram_series>;
template class detail::family_impl<detail::info_series>;
template class detail::family_impl<detail::stateset_series>;

// The text render into a std::string, the usual scrape buffer.
template void render_text<std::string>(const metric_source&, std::string&);
template std::string render_text<std::string>(const metric_source&);

}  // namespace vitals

// Must not compile: constant bucket bounds out of order.
#include <vitals/vitals.hpp>
#ifdef VITALS_CONTROL
constexpr vitals::fixed_buckets buckets{{0.5, 1.0}};
#else
constexpr vitals::fixed_buckets buckets{{1.0, 0.5}};
#endif
int main() {
    vitals::registry r;
    r.histogram<"x_seconds">("help", buckets).observe(1);
}

// Must not compile: label names starting with "__" are reserved for Prometheus.
#include <vitals/vitals.hpp>
int main() {
    vitals::registry r;
#ifdef VITALS_CONTROL
    r.gauge<"x", vitals::labels<"name">>("help").labels("v").set(1);
#else
    r.gauge<"x", vitals::labels<"__name">>("help").labels("v").set(1);
#endif
}

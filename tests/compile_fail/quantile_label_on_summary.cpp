// Must not compile: `quantile` is the quantile label of a summary.
#include <vitals/core/summary.hpp>
#include <vitals/vitals.hpp>
int main() {
    vitals::registry r;
#ifdef VITALS_CONTROL
    r.summary<"x_seconds", vitals::labels<"route">>("help").labels("/").observe(1);
#else
    r.summary<"x_seconds", vitals::labels<"quantile">>("help").labels("/").observe(1);
#endif
}

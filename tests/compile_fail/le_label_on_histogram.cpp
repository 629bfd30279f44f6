// Must not compile: `le` is the bucket label of a histogram.
#include <vitals/vitals.hpp>
int main() {
    vitals::registry r;
#ifdef VITALS_CONTROL
    r.histogram<"x_seconds", vitals::labels<"route">>("help").labels("/").observe(1);
#else
    r.histogram<"x_seconds", vitals::labels<"le">>("help").labels("/").observe(1);
#endif
}

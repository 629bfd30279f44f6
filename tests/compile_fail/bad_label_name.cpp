// Must not compile: a label name with a dash.
#include <vitals/vitals.hpp>
int main() {
    vitals::registry r;
#ifdef VITALS_CONTROL
    r.counter<"x_total", vitals::labels<"good_label">>("help").labels("v").inc();
#else
    r.counter<"x_total", vitals::labels<"bad-label">>("help").labels("v").inc();
#endif
}

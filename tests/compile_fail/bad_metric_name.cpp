// Must not compile: a metric name with a dash.
#include <vitals/vitals.hpp>
int main() {
    vitals::registry r;
#ifdef VITALS_CONTROL
    r.counter<"good_name_total">("help").inc();
#else
    r.counter<"bad-name_total">("help").inc();
#endif
}

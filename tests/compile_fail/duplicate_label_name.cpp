// Must not compile: the same label twice.
#include <vitals/vitals.hpp>
int main() {
    vitals::registry r;
#ifdef VITALS_CONTROL
    r.counter<"x_total", vitals::labels<"method", "status">>("help").labels("GET", "200").inc();
#else
    r.counter<"x_total", vitals::labels<"method", "method">>("help").labels("GET", "200").inc();
#endif
}

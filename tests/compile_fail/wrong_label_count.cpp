// Must not compile: two labels declared, one value given.
#include <vitals/vitals.hpp>
int main() {
    vitals::registry r;
    auto& f = r.counter<"x_total", vitals::labels<"method", "status">>("help");
#ifdef VITALS_CONTROL
    f.labels("GET", "200").inc();
#else
    f.labels("GET").inc();
#endif
}

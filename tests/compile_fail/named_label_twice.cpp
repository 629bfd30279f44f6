// Must not compile: named label values with one label named twice.
#include <vitals/vitals.hpp>
int main() {
    vitals::registry r;
    auto& f = r.counter<"x_total", vitals::labels<"method", "status">>("help");
#ifdef VITALS_CONTROL
    f.labels(vitals::label<"status">("200"), vitals::label<"method">("GET")).inc();
#else
    f.labels(vitals::label<"method">("GET"), vitals::label<"method">("200")).inc();
#endif
}

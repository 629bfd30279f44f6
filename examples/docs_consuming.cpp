// The program docs/consuming.md builds each way (tests/consumers/run.sh does the same in CI).
#include <vitals/vitals.hpp>

#include <iostream>

int main() {
    vitals::registry r;
    auto hello = r.counter<"hello_total">("Times this program said hello.");
    hello.inc();
    std::cout << vitals::render_text(r);
}

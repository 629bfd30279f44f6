// The civetweb sample of docs/http.md, compiled and run in CI. The page shows port 8080; when
// something else holds it, starting fails and the sample says so instead of failing the build's
// tests, since only the code is under test here.
#include <civetweb.h>

#include <iostream>
#include <stdexcept>

#include <vitals/http/adapters/civetweb.hpp>
#include <vitals/vitals.hpp>

int main() {
    vitals::registry reg(vitals::const_labels_from_env("api", "development"));
    vitals::http::instrumentation inst(reg);
    try {
        vitals::http::civetweb_server server(inst, {"listening_ports", "127.0.0.1:8080"});
        server
            .handle("/v1/events/{id}",
                    [](mg_connection* c) {
                        mg_send_http_ok(c, "text/plain", 2);
                        mg_write(c, "ok", 2);
                        return 200;
                    })
            .metrics("/metrics", reg);
        std::cout << "civetweb served on port " << server.port() << " and stops now\n";
    } catch (const std::runtime_error& e) {
        std::cout << "not started (" << e.what() << ")\n";
    }
    std::cout << vitals::render_text(reg);
}

// Built-in checks against real redis-server and PostgreSQL processes on
// loopback (see support/servers.hpp for how they are started). Missing
// server binaries fail these tests with an explanation; they never skip.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "support/servers.hpp"
#include "vitals/health/checks.hpp"
#include "vitals/health/handler.hpp"
#include "vitals/health/probe.hpp"

using namespace std::chrono_literals;
namespace h = vitals::health;
namespace t = vitals::test;

namespace {

constexpr std::string_view redis_password = "correct horse battery staple";

h::deadline_t in(std::chrono::milliseconds d) { return h::clock::now() + d; }

bool contains(const std::string& haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}

h::redis_check redis_at(std::uint16_t port, std::string password = {}) {
    return h::redis_check("redis",
                          {.host = "127.0.0.1", .port = port, .username = {}, .password = std::move(password)});
}

h::postgres_check pg_at(std::uint16_t port, std::string user = "vitals_probe") {
    return h::postgres_check("database", {.host = "127.0.0.1", .port = port, .user = std::move(user), .database = {}});
}

}  // namespace

class HealthServers : public ::testing::Test {
protected:
    // Servers are shared by the suite: initdb alone takes seconds.
    static void SetUpTestSuite() {
        try {
            redis_ = std::make_unique<t::redis_server>();
            redis_auth_ = std::make_unique<t::redis_server>(std::string(redis_password));
            postgres_ = std::make_unique<t::postgres_server>();
        } catch (const std::exception& e) {
            setup_error_ = e.what();
        }
    }
    static void TearDownTestSuite() {
        postgres_.reset();
        redis_auth_.reset();
        redis_.reset();
    }
    void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << "test servers unavailable: " << setup_error_; }

    static inline std::unique_ptr<t::redis_server> redis_;
    static inline std::unique_ptr<t::redis_server> redis_auth_;
    static inline std::unique_ptr<t::postgres_server> postgres_;
    static inline std::string setup_error_;
};

TEST_F(HealthServers, ReadyWhenEverythingIsUp) {
    t::temp_dir events;
    h::probe p;
    p.add(pg_at(postgres_->port()), {.critical = true, .timeout = 3s});
    p.add(redis_at(redis_->port()), {.critical = true, .timeout = 3s});
    p.add(h::writable_dir_check("event_store", events.path()), {.critical = true, .timeout = 3s});
    p.add(h::tcp_check("postgres_tcp", "127.0.0.1", postgres_->port()), {.critical = false, .timeout = 3s});

    const auto report = p.run_now();
    for (const auto& c : report.checks)
        EXPECT_EQ(c.result.status, h::status::healthy) << c.name << ": " << c.result.message;
    EXPECT_TRUE(report.ready);

    const auto json = h::handle_ready(p, "", "");
    EXPECT_EQ(json.status, 200);
    EXPECT_TRUE(json.body.starts_with(R"({"status":"ready","degraded":false,)")) << json.body;
    EXPECT_TRUE(contains(json.body, R"("database":{"name":"database","healthy":true)")) << json.body;
    EXPECT_TRUE(contains(json.body, R"("redis":{"name":"redis","healthy":true)")) << json.body;

    const auto text = h::handle_ready(p, "", "verbose");
    EXPECT_EQ(text.body, "[+]database ok\n[+]redis ok\n[+]event_store ok\n[+]postgres_tcp ok\nreadyz check passed\n");
    EXPECT_EQ(h::handle_ready(p, "/database", "format=text").body, "ok\n");
}

TEST_F(HealthServers, RedisAuthentication) {
    const auto good = redis_at(redis_auth_->port(), std::string(redis_password)).check(in(3s));
    EXPECT_EQ(good.status, h::status::healthy) << good.message;

    const auto wrong = redis_at(redis_auth_->port(), "wrong").check(in(3s));
    EXPECT_EQ(wrong.status, h::status::unhealthy);
    EXPECT_TRUE(contains(wrong.message, "AUTH rejected")) << wrong.message;

    const auto missing = redis_at(redis_auth_->port()).check(in(3s));
    EXPECT_EQ(missing.status, h::status::unhealthy);
    EXPECT_TRUE(contains(missing.message, "NOAUTH")) << missing.message;

    // Sending AUTH to a server without a password is a configuration error.
    const auto extra = redis_at(redis_->port(), "unneeded").check(in(3s));
    EXPECT_EQ(extra.status, h::status::unhealthy);
    EXPECT_TRUE(contains(extra.message, "AUTH rejected")) << extra.message;
}

TEST_F(HealthServers, PostgresAcceptsEvenForUnknownRoles) {
    // Like pg_isready, no valid credentials are needed to see that the server
    // accepts connections; "postgres" exists, "no_such_role" does not.
    for (const char* user : {"postgres", "no_such_role"}) {
        const auto r = pg_at(postgres_->port(), user).check(in(3s));
        EXPECT_EQ(r.status, h::status::healthy) << user << ": " << r.message;
    }
}

TEST_F(HealthServers, RedisStoppedIsUnhealthy) {
    t::redis_server own;  // a private instance: stopping the shared one would affect other tests
    h::probe p;
    p.add(redis_at(own.port()), {.critical = true, .timeout = 3s});
    ASSERT_TRUE(p.run_now().ready);

    own.stop();
    const auto report = p.run_now();
    EXPECT_FALSE(report.ready);
    EXPECT_TRUE(contains(report.checks.at(0).result.message, "refused")) << report.checks.at(0).result.message;
    EXPECT_EQ(h::handle_ready(p, "", "").status, 503);
}

TEST_F(HealthServers, PostgresStoppedIsUnhealthyAndRecovers) {
    h::probe p;
    p.add(pg_at(postgres_->port()), {.critical = true, .timeout = 3s});
    p.add(redis_at(redis_->port()), {.critical = false, .timeout = 3s});
    ASSERT_TRUE(p.run_now().ready);

    postgres_->stop();
    const auto down = p.run_now();
    EXPECT_FALSE(down.ready);
    EXPECT_EQ(down.find("database")->result.status, h::status::unhealthy);
    EXPECT_TRUE(down.find("redis")->result.ok());
    const auto text = h::handle_ready(p, "", "verbose");
    EXPECT_EQ(text.status, 503);
    EXPECT_EQ(text.body, "[-]database failed: reason withheld\n[+]redis ok\nreadyz check failed\n");

    postgres_->start();  // leave the shared server running for other tests
    EXPECT_TRUE(p.run_now().ready);
}

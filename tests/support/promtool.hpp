// Test support: runs a real exposition consumer (promtool from Debian's `prometheus` package) over
// a rendered exposition.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace vitals_test {

struct process_result {
    int exit_code = -1;
    std::string output;  // stdout and stderr together
};

/// Runs `argv` with `input` on its stdin and returns its exit code and output. Bounded: the child
/// is killed after `timeout_ms`.
inline process_result run_process(const std::vector<std::string>& argv, const std::string& input,
                                  int timeout_ms = 30000) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    signal(SIGPIPE, SIG_IGN);
    process_result r;
    std::size_t written = 0;
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    bool in_open = true;
    if (input.empty()) {
        close(in[1]);
        in_open = false;
    }
    int waited = 0;
    for (;;) {
        pollfd fds[2] = {{out[0], POLLIN, 0}, {in_open ? in[1] : -1, POLLOUT, 0}};
        const int n = poll(fds, 2, 100);
        if (n == 0 && (waited += 100) > timeout_ms) {
            kill(pid, SIGKILL);
            break;
        }
        if (fds[1].revents & (POLLOUT | POLLERR | POLLHUP)) {
            const ssize_t w = write(in[1], input.data() + written, input.size() - written);
            if (w > 0) written += static_cast<std::size_t>(w);
            if (w < 0 || written == input.size()) {
                close(in[1]);
                in_open = false;
            }
        }
        if (fds[0].revents & (POLLIN | POLLHUP)) {
            char buf[4096];
            const ssize_t got = read(out[0], buf, sizeof buf);
            if (got <= 0) break;
            r.output.append(buf, static_cast<std::size_t>(got));
        }
    }
    if (in_open) close(in[1]);
    close(out[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

/// The promtool binary: $PROMTOOL or promtool on PATH.
inline std::string promtool_path() {
    const char* p = std::getenv("PROMTOOL");
    return p && *p ? p : "promtool";
}

/// Pipes `exposition` through `promtool check metrics`. Exit code 0 and no output means no parse
/// error and no lint complaint. A missing promtool gives exit code 127.
inline process_result promtool_check(const std::string& exposition) {
    return run_process({promtool_path(), "check", "metrics"}, exposition);
}

}  // namespace vitals_test

// The real `ventros` executable as a user runs it: first start prints the admin key once, the
// server answers, SIGTERM stops it cleanly with exit code 0.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <regex>
#include <string>
#include <vector>

#include "support/test_db.hpp"
#include "ventros/core/http_client.hpp"

extern char** environ;

namespace {

// A child process with stdout and stderr captured through pipes.
class Child {
 public:
  explicit Child(const std::vector<std::string>& args) {
    int out[2], err[2];
    REQUIRE(pipe(out) == 0);
    REQUIRE(pipe(err) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    posix_spawn_file_actions_addclose(&actions, err[0]);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    REQUIRE(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    close(err[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(out_fd_);
    close(err_fd_);
  }
  // Reads both pipes until `pattern` appears in stderr or the child exits (bounded by a generous
  // safety limit so a broken build cannot hang the suite).
  std::smatch WaitForStderr(const std::regex& pattern) {
    std::smatch m;
    for (int i = 0; i < 600; ++i) {
      Pump(100);
      if (std::regex_search(err_, m, pattern)) return m;
    }
    FAIL("pattern not seen on stderr; stderr was:\n" << err_);
    return m;
  }
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    Pump(0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  void Signal(int sig) { kill(pid_, sig); }
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

 private:
  void Pump(int timeout_ms) {
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    if (poll(fds, 2, timeout_ms) <= 0) return;
    char buf[4096];
    if (fds[0].revents & POLLIN) {
      ssize_t n = read(out_fd_, buf, sizeof buf);
      if (n > 0) out_.append(buf, static_cast<size_t>(n));
    }
    if (fds[1].revents & POLLIN) {
      ssize_t n = read(err_fd_, buf, sizeof buf);
      if (n > 0) err_.append(buf, static_cast<size_t>(n));
    }
  }
  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  std::string out_, err_;
};

}  // namespace

TEST_CASE("ventros serve: prints the admin key once, serves, stops on SIGTERM with exit 0",
          "[e2e]") {
  ventros::testing::TempDir dir;
  std::string db = "sqlite://" + dir.path() + "/v.db";
  std::string key;
  {
    Child server({VENTROS_BINARY, "serve", "--db", db, "--listen", "127.0.0.1:0"});
    auto m = server.WaitForStderr(std::regex(R"(listening on http://127\.0\.0\.1:(\d+))"));
    std::string port = m[1];
    std::smatch km;
    REQUIRE(std::regex_search(server.out(), km, std::regex("API key .*: (vt_[A-Za-z0-9]+)")));
    key = km[1];

    ventros::core::HttpClient client;
    ventros::core::HttpClientRequest req;
    req.url = "http://127.0.0.1:" + port + "/v1/tenant";
    req.headers = {{"Authorization", "Bearer " + key}};
    auto res = client.Send(req);
    REQUIRE(res.ok());
    CHECK(res->status == 200);

    server.Signal(SIGTERM);
    CHECK(server.Wait() == 0);
    CHECK_THAT(server.err(), Catch::Contains("stopping"));
    CHECK_THAT(server.err(), Catch::Contains("request_id="));  // requests are logged
  }
  // Second start on the same database: no key printed.
  Child again({VENTROS_BINARY, "serve", "--db", db, "--listen", "127.0.0.1:0"});
  again.WaitForStderr(std::regex("listening on"));
  again.Signal(SIGINT);
  CHECK(again.Wait() == 0);
  CHECK(again.out().find("vt_") == std::string::npos);
}

TEST_CASE("ventros: an unreachable database at start exits 1 naming the URL without password",
          "[e2e]") {
  Child c({VENTROS_BINARY, "serve", "--db", "postgres://ventros:hunter2@127.0.0.1:1/ventros",
           "--listen", "127.0.0.1:0"});
  CHECK(c.Wait() == 1);
  CHECK_THAT(c.err(), Catch::Contains("postgres://ventros:***@127.0.0.1:1/ventros"));
  CHECK(c.err().find("hunter2") == std::string::npos);
}

// kill -9 in the middle of a webhook load: after a restart, every webhook that got a 200 is
// stored exactly once, applied, and its events delivered; re-sending them stores nothing new.

#include <fmt/format.h>
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "app/app.hpp"
#include "support/child_process.hpp"
#include "support/test_db.hpp"
#include "ventros/core/crypto.hpp"
#include "ventros/core/http_client.hpp"

using ventros::testing::Child;
using ventros::testing::ParseJson;
namespace core = ventros::core;

namespace {

std::string Webhook(int i) {
  return fmt::format(
      R"({{"id":"evt_crash_{0}","timestamp":1760701009638,"event":"message","session":"default",)"
      R"("payload":{{"id":"false_5511970{1:06}@c.us_CRASH{0:08}","timestamp":1760701009,)"
      R"("from":"5511970{1:06}@c.us","fromMe":false,"to":"5511900000000@c.us",)"
      R"("body":"mensagem {0}","hasMedia":false,"_data":{{"pushName":"Cliente {1}"}}}}}})",
      i, i % 50);
}

std::string Cli(const std::vector<std::string>& args) {
  std::vector<const char*> argv = {"ventros"};
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  int code = ventros::app::RunCli(static_cast<int>(argv.size()), argv.data(), out, err, {});
  INFO(err.str());
  REQUIRE(code == 0);
  return out.str();
}

uint16_t StartedPort(Child& server) {
  auto m = server.WaitForStderr(std::regex(R"(listening on http://127\.0\.0\.1:(\d+))"));
  return static_cast<uint16_t>(std::stoi(m[1]));
}

}  // namespace

TEST_CASE("Crash: kill -9 during a webhook load loses nothing that was acknowledged",
          "[e2e][faults]") {
  ventros::testing::TempDir dir;
  std::string db_url = "sqlite://" + dir.path() + "/v.db";
  std::string tenant(ParseJson(Cli({"tenant", "create", "Crash", "--db", db_url, "--json"}))
                         .at("tenant")
                         .at("id")
                         .as_string());
  std::string channel(ParseJson(Cli({"channel", "add-waha", "--tenant", tenant, "--name", "c",
                                     "--waha-url", "http://127.0.0.1:9", "--waha-api-key", "k",
                                     "--hmac-secret", "s", "--db", db_url, "--json"}))
                          .at("id")
                          .as_string());

  std::mutex mu;
  std::set<int> acked;
  {
    Child server({VENTROS_BINARY, "serve", "--db", db_url, "--listen", "127.0.0.1:0"});
    uint16_t port = StartedPort(server);
    std::atomic<int> next{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> senders;
    for (int t = 0; t < 4; ++t) {
      senders.emplace_back([&] {
        core::HttpClientOptions o;
        o.max_retries = 0;
        o.request_timeout = std::chrono::seconds(10);
        core::HttpClient client(o);
        while (!stop) {
          int i = next++;
          std::string body = Webhook(i);
          core::HttpClientRequest req;
          req.method = "POST";
          req.url = fmt::format("http://127.0.0.1:{}/webhooks/waha/{}", port, channel);
          req.body = body;
          req.headers = {{"Content-Type", "application/json"},
                         {"X-Webhook-Hmac", core::HmacSha512Hex("s", body)}};
          req.retry = false;
          auto res = client.Send(req);
          if (!res.ok()) break;  // the server died under us
          if (res->status == 200) {
            std::lock_guard lock(mu);
            acked.insert(i);
          }
        }
      });
    }
    // Let a few hundred through, then kill without warning while requests are in flight.
    for (int i = 0; i < 3000; ++i) {
      {
        std::lock_guard lock(mu);
        if (acked.size() >= 300) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    server.Signal(SIGKILL);
    server.Wait();
    stop = true;
    for (auto& t : senders) t.join();
  }
  REQUIRE(acked.size() >= 300);

  Child again({VENTROS_BINARY, "serve", "--db", db_url, "--listen", "127.0.0.1:0"});
  uint16_t port = StartedPort(again);
  core::DatabaseOptions opts;
  opts.url = db_url;
  opts.pool_size = 1;
  auto db = core::Database::Open(opts);
  REQUIRE(db.ok());
  auto count = [&](const std::string& sql) {
    auto conn = (*db)->Acquire();
    REQUIRE(conn.ok());
    auto r = (*conn)->Query(sql);
    INFO(sql << ": " << r.status().ToString());
    REQUIRE(r.ok());
    return r->rows[0].GetInt(0);
  };
  // The restarted server finishes what was stored before the crash.
  for (int i = 0; i < 600 && count("SELECT COUNT(*) FROM waha_inbox WHERE state = 'pending'") > 0;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(count("SELECT COUNT(*) FROM waha_inbox WHERE state = 'pending'") == 0);
  for (int i : acked) {
    INFO("webhook " << i);
    CHECK(count(fmt::format("SELECT COUNT(*) FROM waha_inbox WHERE envelope_id = 'evt_crash_{}'",
                            i)) == 1);
    CHECK(count(fmt::format("SELECT COUNT(*) FROM messages WHERE waha_bare_id = 'CRASH{:08}'",
                            i)) == 1);
  }
  // Every stored webhook became exactly one message and one message.received event.
  int64_t messages = count("SELECT COUNT(*) FROM messages");
  CHECK(messages == count("SELECT COUNT(*) FROM waha_inbox"));
  CHECK(count("SELECT COUNT(*) FROM events WHERE type = 'message.received'") == messages);
  CHECK(count("SELECT COUNT(*) FROM event_deliveries") == 0);

  // WAHA retries whatever it did not see acknowledged, and the acknowledged ones too: all dedupe.
  core::HttpClient client;
  for (int i : acked) {
    std::string body = Webhook(i);
    core::HttpClientRequest req;
    req.method = "POST";
    req.url = fmt::format("http://127.0.0.1:{}/webhooks/waha/{}", port, channel);
    req.body = body;
    req.headers = {{"Content-Type", "application/json"},
                   {"X-Webhook-Hmac", core::HmacSha512Hex("s", body)}};
    auto res = client.Send(req);
    REQUIRE(res.ok());
    CHECK(res->body == R"({"status":"duplicate"})");
  }
  CHECK(count("SELECT COUNT(*) FROM messages") == messages);
  again.Signal(SIGTERM);
  CHECK(again.Wait() == 0);
}

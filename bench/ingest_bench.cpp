// Load generator for `scripts/bench ingest`: posts distinct HMAC-signed WAHA message webhooks to
// a running server over keep-alive connections, then waits until the server has applied them all.
// Prints JSON lines {"bench","metric","value","unit"}. With --ceiling it instead measures raw
// batched inserts of the same rows into a fresh SQLite file (the upper bound for ingest).

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "ventros/core/clock.hpp"
#include "ventros/core/crypto.hpp"
#include "ventros/core/db.hpp"
#include "ventros/core/http_client.hpp"
#include "ventros/core/ids.hpp"
#include "ventros/core/migrations.hpp"

using namespace ventros::core;

namespace {

using ventros::bench::Percentile;
using ventros::bench::RssMb;
using ventros::bench::Seconds;
using ventros::bench::Sum;

void Emit(const std::string& bench, const std::string& metric, double value, const char* unit) {
  ventros::bench::Emit(bench, metric, value, unit, 2);
}

// WAHA's envelope ids: "evt_" and a lower-case ULID (48-bit milliseconds, then 80 random bits,
// Crockford base32), so they grow with time as WAHA's do.
std::string EnvelopeId(int64_t ms, uint64_t random) {
  static constexpr char kDigits[] = "0123456789abcdefghjkmnpqrstvwxyz";
  std::string out = "evt_";
  for (int shift = 45; shift >= 0; shift -= 5) out.push_back(kDigits[(ms >> shift) & 31]);
  for (int k = 0; k < 16; ++k) {
    out.push_back(kDigits[random & 31]);
    random = random * 6364136223846793005ULL + 1442695040888963407ULL;
    random ^= random >> 29;
  }
  return out;
}

std::string Body(int i, int contacts) {
  std::string phone = fmt::format("55119{:08}", i % contacts);
  std::string msg = fmt::format("BENCH{:016X}", static_cast<uint64_t>(i) * 2654435761u + 17);
  int64_t ts = 1760701000 + i / 100;
  std::string envelope = EnvelopeId(1760701000000 + i / 10, static_cast<uint64_t>(i) * 7919 + 1);
  return fmt::format(
      R"({{"id":"{}","timestamp":{},"event":"message","session":"default",)"
      R"("metadata":{{}},"me":{{"id":"5511900000000@c.us","pushName":"Loja"}},)"
      R"("payload":{{"id":"false_{}@c.us_{}","timestamp":{},"from":"{}@c.us","fromMe":false,)"
      R"("source":"app","to":"5511900000000@c.us","participant":null,)"
      R"("body":"Mensagem de teste número {} sobre o pedido e o preço","hasMedia":false,)"
      R"("media":null,"ack":1,"ackName":"SERVER","replyTo":null,)"
      R"("_data":{{"pushName":"Cliente {}"}}}},"engine":"NOWEB"}})",
      envelope, ts * 1000, phone, msg, ts, phone, i, i % contacts);
}

int Ceiling(const std::string& path, int count, const std::string& label) {
  DatabaseOptions opts;
  opts.url = "sqlite://" + path;
  auto db = Database::Open(opts);
  if (!db.ok()) {
    std::cerr << db.status().ToString() << "\n";
    return 1;
  }
  SystemClock clock;
  Migrator m(**db, Migrator::EmbeddedFor(DbEngine::kSqlite), clock);
  if (!m.Apply().ok()) return 1;
  auto conn = (*db)->Acquire();
  std::vector<std::string> bodies;
  for (int i = 0; i < count; ++i) bodies.push_back(Body(i, 1000));
  auto start = std::chrono::steady_clock::now();
  constexpr int kBatch = 1000;
  for (int i = 0; i < count; i += kBatch) {
    auto tx = Transaction::Begin(**conn);
    for (int j = i; j < std::min(count, i + kBatch); ++j) {
      std::string id = NewUuidV7(clock);
      auto a = (*conn)->Query(
          "INSERT INTO waha_inbox (id, tenant_id, channel_id, envelope_id, event, dedup_key, body, "
          "state, received_at) VALUES ($1, 't', 'c', $2, 'message', $3, $4, 'pending', $5)",
          {DbValue(id), DbValue(fmt::format("evt_{}", j)), DbValue(fmt::format("msg:{}", j)),
           DbValue(bodies[j]), DbValue(clock.NowMillis())});
      auto b = (*conn)->Query(
          "INSERT INTO events (id, type, tenant_id, event_key, occurred_at, payload) "
          "VALUES ($1, 'waha.webhook_received', 't', 'k', $2, $3)",
          {DbValue(NewUuidV7(clock)), DbValue(clock.NowMillis()),
           DbValue(fmt::format(R"({{"inbox_id":"{}"}})", id))});
      if (!a.ok() || !b.ok()) {
        std::cerr << "insert failed\n";
        return 1;
      }
    }
    if (!tx->Commit().ok()) return 1;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Emit("ingest", label + "_ceiling_batched_inserts_per_second", count / secs, "rows/s");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Ventros ingest load generator (used by scripts/bench ingest)"};
  std::string url, channel, secret, db_url, label = "sqlite", ceiling_path;
  int count = 20000, concurrency = 32, contacts = 1000;
  app.add_option("--url", url, "Server base URL");
  app.add_option("--channel", channel, "Channel id");
  app.add_option("--secret", secret, "Channel HMAC secret");
  app.add_option("--db", db_url, "Database URL, to wait until every webhook is applied");
  app.add_option("--count", count, "Webhooks to send");
  app.add_option("--concurrency", concurrency, "Concurrent connections");
  app.add_option("--contacts", contacts, "Distinct senders");
  app.add_option("--label", label, "Engine label for metric names");
  app.add_option("--ceiling", ceiling_path, "Measure raw batched SQLite inserts into this file");
  std::string generate;
  app.add_option("--generate", generate,
                 "Write --count signed webhooks to this file (HMAC<TAB>body per line) for wrk");
  bool wait_only = false;
  app.add_flag("--wait-applied", wait_only,
               "Only wait until --db has no pending webhook; print the applied rate of --count "
               "webhooks since --since-ms");
  int64_t since_ms = 0;
  app.add_option("--since-ms", since_ms,
                 "Epoch milliseconds the load started (for --wait-applied)");
  CLI11_PARSE(app, argc, argv);
  if (!ceiling_path.empty()) return Ceiling(ceiling_path, count, label);
  if (!generate.empty()) {
    std::FILE* f = std::fopen(generate.c_str(), "w");
    if (!f) return 1;
    for (int i = 0; i < count; ++i) {
      std::string body = Body(i, contacts);
      std::fprintf(f, "%s\t%s\n", HmacSha512Hex(secret, body).c_str(), body.c_str());
    }
    std::fclose(f);
    return 0;
  }
  if (wait_only) {
    DatabaseOptions opts;
    opts.url = db_url;
    opts.pool_size = 1;
    auto db = Database::Open(opts);
    if (!db.ok()) {
      std::cerr << db.status().ToString() << "\n";
      return 1;
    }
    // Wait until nothing is pending, then read the window the server took: from the first
    // webhook received to the last one applied (the rows' own times, not this tool's).
    for (int i = 0; i < 30000; ++i) {
      auto conn = (*db)->Acquire();
      auto r = (*conn)->Query("SELECT COUNT(*) FROM waha_inbox WHERE state = 'pending'");
      if (r.ok() && r->rows[0].GetInt(0) == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    auto conn = (*db)->Acquire();
    auto r = (*conn)->Query(
        "SELECT COUNT(*), MIN(received_at), MAX(COALESCE(processed_at, received_at)) "
        "FROM waha_inbox WHERE received_at >= $1",
        {DbValue(since_ms)});
    if (!r.ok() || r->rows[0].GetInt(0) == 0) {
      std::cerr << "no webhooks stored since the start\n";
      return 1;
    }
    const int64_t applied = r->rows[0].GetInt(0);
    const double secs = std::max<int64_t>(1, r->rows[0].GetInt(2) - r->rows[0].GetInt(1)) / 1000.0;
    Emit("ingest", label + "_messages_applied_per_second", static_cast<double>(applied) / secs,
         "msg/s");
    return 0;
  }

  std::vector<std::string> bodies(count), sigs(count);
  for (int i = 0; i < count; ++i) {
    bodies[i] = Body(i, contacts);
    sigs[i] = HmacSha512Hex(secret, bodies[i]);
  }
  std::atomic<int> next{0};
  std::atomic<int> errors{0};
  std::mutex mu;
  std::vector<double> latencies;
  latencies.reserve(count);
  std::string target = url + "/webhooks/waha/" + channel;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&] {
      HttpClientOptions o;
      o.max_retries = 0;
      HttpClient client(o);
      std::vector<double> mine;
      for (int i = next++; i < count; i = next++) {
        HttpClientRequest req;
        req.method = "POST";
        req.url = target;
        req.body = bodies[i];
        req.headers = {{"Content-Type", "application/json"}, {"X-Webhook-Hmac", sigs[i]}};
        req.retry = false;
        auto t0 = std::chrono::steady_clock::now();
        auto res = client.Send(req);
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                        .count();
        if (!res.ok() || res->status != 200) {
          ++errors;
          continue;
        }
        mine.push_back(ms);
      }
      std::lock_guard lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double acked = static_cast<double>(latencies.size());
  Emit("ingest", label + "_webhooks_acked_per_second", acked / secs, "msg/s");
  Emit("ingest", label + "_p50_latency_ms", Percentile(latencies, 0.50), "ms");
  Emit("ingest", label + "_p99_latency_ms", Percentile(latencies, 0.99), "ms");
  Emit("ingest", label + "_errors", errors.load(), "count");

  if (!db_url.empty()) {
    DatabaseOptions opts;
    opts.url = db_url;
    opts.pool_size = 1;
    auto db = Database::Open(opts);
    if (!db.ok()) {
      std::cerr << db.status().ToString() << "\n";
      return 1;
    }
    for (int i = 0; i < 6000; ++i) {
      auto conn = (*db)->Acquire();
      auto r = (*conn)->Query("SELECT COUNT(*) FROM waha_inbox WHERE state = 'pending'");
      if (r.ok() && r->rows[0].GetInt(0) == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    Emit("ingest", label + "_messages_applied_per_second", acked / total, "msg/s");
  }
  return errors.load() == 0 ? 0 : 1;
}

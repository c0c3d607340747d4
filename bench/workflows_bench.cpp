// scripts/bench workflows: the durable workflow engine (modules/workflows) on a temporary SQLite
// file (or any database URL, e.g. PostgreSQL), one phase per run so each phase's RSS is its own:
//   --phase start     StartWorkflow calls per second from 1 and from 4 threads (a trivial type
//                     whose first step sleeps 30 days; the workers are not running), then starts
//                     with the workers running until every workflow sleeps (start + first step).
//   --phase sleeping  100,000 workflows started and advanced by the workers until they all sleep
//                     30 days; then RSS with the workers running idle for a few seconds, the CPU
//                     they burn while idle, and the database's size on disk.
//   --phase timers    with the workers running on the system clock: workflows whose first step
//                     sleeps a random 1-5 s and whose next step records how late it woke (p50,
//                     p99, max) and the steps per second over the run (bound by demand: N timers
//                     spread over 4 s); then a burst of timers all due at the same instant (how
//                     fast the workers drain them: timers per second, the capacity, and the
//                     lateness of the last ones).
// The engine runs with the app's defaults (2 workers, 8 connections; --workers and
// --poll-interval-ms change them).
// Targets (issue 7): >= 2,000 starts/s on SQLite, <= 300 MB RSS with 100,000 sleeping, timer
// lateness p99 <= 100 ms. Anchor: Temporal on SQLite manages about 1-20 workflows/s.
// One JSON line per figure:
//   {"bench":"workflows","metric":"sqlite_start_rate_1_thread","value":5000.0,"unit":"workflows/s"}

#include <fmt/format.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "ventros/core/clock.hpp"
#include "ventros/core/config.hpp"
#include "ventros/core/crypto.hpp"
#include "ventros/core/db.hpp"
#include "ventros/core/log.hpp"
#include "ventros/core/migrations.hpp"
#include "ventros/workflows/engine.hpp"

using namespace ventros;
namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

using ventros::bench::Percentile;
using ventros::bench::RssMb;
using ventros::bench::Seconds;
using ventros::bench::Sum;

void Emit(const std::string& metric, double value, const std::string& unit) {
  ventros::bench::Emit("workflows", metric, value, unit);
}

constexpr const char* kTenant = "bench";
constexpr int64_t kDayMs = 24LL * 3600 * 1000;

// User + system CPU seconds of this process so far.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto tv = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return tv(u.ru_utime) + tv(u.ru_stime);
}

void Check(const core::Status& st, const char* what) {
  if (!st.ok()) {
    std::cerr << "workflows bench: " << what << ": " << st.ToString() << "\n";
    std::exit(1);
  }
}

int64_t Int(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  if (!v) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->as_double());
  return 0;
}

// One scalar of a query (COUNT, SUM).
int64_t Scalar(core::Database& db, const std::string& sql, std::initializer_list<core::DbValue> p) {
  auto conn = db.Acquire();
  Check(conn.status(), "acquire");
  auto rows = (*conn)->Query(sql, p);
  Check(rows.status(), "query");
  return rows->empty() ? 0 : rows->rows[0].GetInt(0);
}

// Running workflows due within a day: those that have not reached their 30-day sleep yet.
int64_t NotYetSleeping(core::Database& db, const core::Clock& clock) {
  return Scalar(db,
                "SELECT COUNT(*) FROM workflows WHERE status = 'running' AND wake_at > 0 AND "
                "wake_at <= $1",
                {core::DbValue(clock.NowMillis() + kDayMs)});
}

struct Bench {
  std::string url;
  std::string label;
  int workers = 2;
  int poll_interval_ms = 0;  // 0: the engine's default
  core::SystemClock clock;
  std::unique_ptr<core::Database> db;
  std::unique_ptr<workflows::Engine> engine;

  // Woken timers: (intended, actual) epoch ms, and when the step ran (steady clock).
  std::mutex mu;
  std::vector<double> lateness_ms;
  std::vector<SteadyClock::time_point> woke_at;

  void Open() {
    core::DatabaseOptions dbo;
    dbo.url = url;
    dbo.pool_size = 8;  // the app's default
    auto opened = core::Database::Open(dbo);
    Check(opened.status(), "open");
    db = std::move(*opened);
    core::Migrator migrator(*db, core::Migrator::EmbeddedFor(db->engine()), clock);
    Check(migrator.Apply().status(), "migrate");
    core::Config::Log log;
    log.level = "warn";
    auto logger = core::MakeLogger(log);
    Check(logger.status(), "logger");
    workflows::Engine::Options options;
    options.workers = workers;
    if (poll_interval_ms > 0) options.poll_interval = std::chrono::milliseconds(poll_interval_ms);
    engine = std::make_unique<workflows::Engine>(*db, clock, *logger, nullptr, options);

    // Sleeps 30 days, then completes.
    workflows::Definition sleeper;
    sleeper.type = "bench_sleeper";
    sleeper.first_step = "sleep";
    sleeper.steps["sleep"] = [](workflows::StepContext&) {
      return workflows::Command::Sleep(std::chrono::milliseconds(30 * kDayMs), "done");
    };
    sleeper.steps["done"] = [](workflows::StepContext&) { return workflows::Command::Complete(); };
    engine->Register(std::move(sleeper));

    // Sleeps until input "at_ms" (or for "delay_ms" from its first step), then records how late
    // its next step ran.
    workflows::Definition timer;
    timer.type = "bench_timer";
    timer.first_step = "sleep";
    timer.steps["sleep"] = [](workflows::StepContext& ctx) {
      int64_t intended = Int(ctx.state, "at_ms");
      if (intended == 0) intended = ctx.now_ms + Int(ctx.state, "delay_ms");
      ctx.state["intended_ms"] = intended;
      return workflows::Command::Sleep(std::chrono::milliseconds(intended - ctx.now_ms), "wake");
    };
    timer.steps["wake"] = [this](workflows::StepContext& ctx) {
      int64_t late = clock.NowMillis() - Int(ctx.state, "intended_ms");
      {
        std::lock_guard lock(mu);
        lateness_ms.push_back(static_cast<double>(late));
        woke_at.push_back(SteadyClock::now());
      }
      return workflows::Command::Complete(json::object{{"late_ms", late}});
    };
    engine->Register(std::move(timer));
  }

  // `count` starts of `type` over `threads` threads; returns the per-call latencies (ms).
  std::vector<double> StartMany(int count, int threads, const std::string& type,
                                const std::function<std::string(int)>& input) {
    std::vector<std::vector<double>> per(static_cast<size_t>(threads));
    std::vector<std::thread> pool;
    std::atomic<bool> failed{false};
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        auto& lat = per[static_cast<size_t>(t)];
        lat.reserve(static_cast<size_t>(count / threads + 1));
        for (int i = t; i < count; i += threads) {
          auto t0 = SteadyClock::now();
          auto w = engine->StartWorkflow(kTenant, type, input(i));
          lat.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
          if (!w.ok()) {
            std::cerr << "workflows bench: start: " << w.status().ToString() << "\n";
            failed = true;
            return;
          }
        }
      });
    }
    for (auto& th : pool) th.join();
    if (failed) std::exit(1);
    std::vector<double> all;
    for (auto& v : per) all.insert(all.end(), v.begin(), v.end());
    return all;
  }

  // Waits (the workers running) until no workflow is due within a day; false after `limit`.
  bool WaitAllSleeping(std::chrono::seconds limit) {
    auto t0 = SteadyClock::now();
    while (NotYetSleeping(*db, clock) > 0) {
      if (SteadyClock::now() - t0 > limit) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  std::string P(const std::string& metric) const { return label + "_" + metric; }
};

void StartPhase(Bench& b, int starts, const std::vector<int>& thread_counts) {
  auto empty = [](int) { return std::string("{}"); };
  for (int threads : thread_counts) {
    auto t0 = SteadyClock::now();
    auto lat = b.StartMany(starts, threads, "bench_sleeper", empty);
    double s = Seconds(t0);
    std::string suffix = fmt::format("{}_thread{}", threads, threads == 1 ? "" : "s");
    Emit(b.P("start_rate_" + suffix), starts / s, "workflows/s");
    Emit(b.P("start_p50_" + suffix + "_ms"), Percentile(lat, 0.5), "ms");
    Emit(b.P("start_p99_" + suffix + "_ms"), Percentile(lat, 0.99), "ms");
  }
  // The workflows started above are due (the workers did not run): let the workers put them to
  // sleep first, so the next figure is only the new starts.
  b.engine->Start();
  if (!b.WaitAllSleeping(std::chrono::seconds(600))) Check(core::Status::Internal("stuck"), "wait");
  // Start + first step: one thread starting while the workers advance the new workflows, until
  // all of them sleep.
  auto t0 = SteadyClock::now();
  b.StartMany(starts, 1, "bench_sleeper", empty);
  double started = Seconds(t0);
  if (!b.WaitAllSleeping(std::chrono::seconds(600))) Check(core::Status::Internal("stuck"), "wait");
  double total = Seconds(t0);
  b.engine->Stop();
  Emit(b.P("start_rate_workers_running"), starts / started, "workflows/s");
  Emit(b.P("start_to_sleeping_rate"), starts / total, "workflows/s");
}

void SleepingPhase(Bench& b, int count, const std::string& db_path) {
  Emit(b.P("baseline_rss_mb"), RssMb(), "MB");
  auto t0 = SteadyClock::now();
  b.StartMany(count, 4, "bench_sleeper", [](int) { return std::string("{}"); });
  double start_s = Seconds(t0);
  Emit(b.P("sleeping_start_rate_4_threads"), count / start_s, "workflows/s");
  t0 = SteadyClock::now();
  b.engine->Start();
  if (!b.WaitAllSleeping(std::chrono::seconds(1800))) {
    Check(core::Status::Internal("the workflows did not all reach their sleep"), "wait");
  }
  double advance_s = Seconds(t0);
  Emit(b.P("sleeping_first_step_rate"), count / advance_s, "workflows/s");
  // Idle with 100,000 sleeping: what the workers cost while nothing is due.
  const int idle_seconds = 3;
  double cpu0 = CpuSeconds();
  std::this_thread::sleep_for(std::chrono::seconds(idle_seconds));
  double idle_cpu = (CpuSeconds() - cpu0) / idle_seconds;
  Emit(b.P("sleeping_workflows"), count, "workflows");
  Emit(b.P("sleeping_rss_mb"), RssMb(), "MB");
  Emit(b.P("sleeping_idle_cpu_percent"), idle_cpu * 100, "%");
  b.engine->Stop();
  int64_t history = Scalar(*b.db, "SELECT COUNT(*) FROM workflow_history", {});
  Emit(b.P("sleeping_history_rows_per_workflow"), static_cast<double>(history) / count, "rows");
  if (!db_path.empty()) {
    // Checkpoints the WAL into the file, so the size is the data's, then both files.
    {
      auto conn = b.db->Acquire();
      Check(conn.status(), "acquire");
      Check((*conn)->ExecScript("PRAGMA wal_checkpoint(TRUNCATE)"), "checkpoint");
    }
    double bytes = 0;
    for (const char* suffix : {"", "-wal"}) {
      std::error_code ec;
      auto n = std::filesystem::file_size(db_path + suffix, ec);
      if (!ec) bytes += static_cast<double>(n);
    }
    Emit(b.P("sleeping_db_mb"), bytes / (1024.0 * 1024.0), "MB");
    Emit(b.P("sleeping_db_bytes_per_workflow"), bytes / count, "bytes");
  }
}

// How late the woken workflows ran: p50/p99/max, with `prefix`.
void EmitLateness(Bench& b, const std::string& prefix) {
  std::lock_guard lock(b.mu);
  Emit(b.P(prefix + "_lateness_p50_ms"), Percentile(b.lateness_ms, 0.5), "ms");
  Emit(b.P(prefix + "_lateness_p99_ms"), Percentile(b.lateness_ms, 0.99), "ms");
  Emit(b.P(prefix + "_lateness_max_ms"),
       b.lateness_ms.empty() ? 0 : *std::max_element(b.lateness_ms.begin(), b.lateness_ms.end()),
       "ms");
}

bool WaitWoken(Bench& b, size_t n, std::chrono::seconds limit) {
  auto t0 = SteadyClock::now();
  for (;;) {
    {
      std::lock_guard lock(b.mu);
      if (b.lateness_ms.size() >= n) return true;
    }
    if (SteadyClock::now() - t0 > limit) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void TimersPhase(Bench& b, int count) {
  b.engine->Start();
  // Spread: each sleeps a random 1-5 s from its first step.
  std::mt19937_64 rng(7);
  std::vector<int64_t> delays(static_cast<size_t>(count));
  for (auto& d : delays) d = 1000 + static_cast<int64_t>(rng() % 4001);
  auto t0 = SteadyClock::now();
  b.StartMany(count, 1, "bench_timer", [&](int i) {
    return fmt::format(R"({{"delay_ms":{}}})", delays[static_cast<size_t>(i)]);
  });
  const double start_rate = count / Seconds(t0);
  Emit(b.P("timers_start_rate_workers_running"), start_rate, "workflows/s");
  if (!WaitWoken(b, static_cast<size_t>(count), std::chrono::seconds(300))) {
    Check(core::Status::Internal("timers did not all fire"), "wait");
  }
  double window = Seconds(t0);
  EmitLateness(b, "timer");
  // Each workflow: its first step, then the timer fires and the second step runs.
  Emit(b.P("timer_steps_per_second"), 2.0 * count / window, "steps/s");
  {
    std::lock_guard lock(b.mu);
    b.lateness_ms.clear();
    b.woke_at.clear();
  }

  // Burst: all due at the same instant, 2 s after the last start is expected (at the rate just
  // measured, with room to spare).
  auto s0 = SteadyClock::now();
  const int64_t at =
      b.clock.NowMillis() + 2000 + static_cast<int64_t>(1500.0 * count / std::max(1.0, start_rate));
  b.StartMany(count, 1, "bench_timer", [&](int) { return fmt::format(R"({{"at_ms":{}}})", at); });
  double started_s = Seconds(s0);
  if (b.clock.NowMillis() >= at) {
    std::cerr << "workflows bench: the burst's starts took " << started_s
              << " s, past the instant they were due (lateness includes it)\n";
  }
  if (!WaitWoken(b, static_cast<size_t>(count), std::chrono::seconds(300))) {
    Check(core::Status::Internal("burst timers did not all fire"), "wait");
  }
  b.engine->Stop();
  EmitLateness(b, "timer_burst");
  std::lock_guard lock(b.mu);
  double drain_s = b.lateness_ms.empty()
                       ? 0
                       : *std::max_element(b.lateness_ms.begin(), b.lateness_ms.end()) / 1000.0;
  if (drain_s > 0) Emit(b.P("timer_burst_fired_per_second"), count / drain_s, "timers/s");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Workflow engine benchmark"};
  std::string phase, db_url, label = "sqlite", threads_list = "1,4";
  int starts = 20000, sleeping = 100000, timers = 5000, workers = 2, poll_ms = 0;
  cli.add_option("--phase", phase, "start | sleeping | timers")->required();
  cli.add_option("--db", db_url, "Database URL (default: a temporary SQLite file)");
  cli.add_option("--label", label, "Prefix of the metric names (the database engine)");
  cli.add_option("--starts", starts, "Workflows started per measure (start phase)");
  cli.add_option("--threads", threads_list, "Thread counts for the start rate, comma-separated");
  cli.add_option("--sleeping", sleeping, "Sleeping workflows (sleeping phase)");
  cli.add_option("--timers", timers, "Timers (timers phase)");
  cli.add_option("--workers", workers, "Engine worker threads (the app's default: 2)");
  cli.add_option("--poll-interval-ms", poll_ms, "Engine poll interval (default: the engine's)");
  CLI11_PARSE(cli, argc, argv);

  std::string tmp, db_path;
  if (db_url.empty()) {
    tmp = (std::filesystem::temp_directory_path() / ("ventros-bench-wf-" + core::RandomHex(6)))
              .string();
    std::filesystem::create_directories(tmp);
    db_path = tmp + "/workflows.db";
    db_url = "sqlite://" + db_path;
  }
  int code = 0;
  {
    Bench b;
    b.url = db_url;
    b.label = label;
    b.workers = workers;
    b.poll_interval_ms = poll_ms;
    b.Open();
    if (phase == "start") {
      std::vector<int> counts;
      std::stringstream in(threads_list);
      for (std::string x; std::getline(in, x, ',');) counts.push_back(std::max(1, std::stoi(x)));
      StartPhase(b, starts, counts);
    } else if (phase == "sleeping") {
      SleepingPhase(b, sleeping, db_path);
    } else if (phase == "timers") {
      TimersPhase(b, timers);
    } else {
      std::cerr << "workflows bench: unknown phase '" << phase << "'\n";
      code = 2;
    }
  }
  if (!tmp.empty()) std::filesystem::remove_all(tmp);
  return code;
}

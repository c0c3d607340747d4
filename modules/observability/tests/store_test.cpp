// The span store on both engines: what a turn's spans become (rows, a tree, totals), sampling,
// the bounded queue, retention, usage, flagged replies, retrieval quality and the REST edges.

#include "ventros/observability/store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <cctype>
#include <limits>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/test_db.hpp"
#include "ventros/core/http.hpp"
#include "ventros/core/trace.hpp"

using namespace ventros;
using core::SpanKind;
using core::Status;
using observability::SpanStore;
using observability::TraceFilter;
using observability::UsageGroup;
using testing::ParseJson;

namespace {

const std::string kTenantA = "tenant-a";
const std::string kTenantB = "tenant-b";
constexpr int64_t kDayMs = 86'400'000;

struct TurnSpec {
  std::string tenant = kTenantA;
  std::string session = "session-1";
  std::string agent = "sales";
  std::string model = "gpt-4o-mini";
  int llm_calls = 1;
  int64_t prompt = 100, completion = 20, cached = 10;
  double cost = 0.002;
  double groundedness = 1.0;
  bool replaced = false;
  double similarity = 0.8;
  double rerank_gain = 0.1;
  std::string reply = "Our plan costs R$ 99 per month.";
};

// One agent turn as the coordinator traces it:
//   AGENT agent.turn
//     CHAIN routing
//     CHAIN respond
//       RETRIEVER search_memory, RERANKER rerank, LLM llm.chat (xN), TOOL tool.make_offer
//     GUARDRAIL groundedness
std::string Turn(const core::Tracer& tracer, core::VirtualClock& clock, const TurnSpec& t) {
  core::Span root = tracer.StartTrace("agent.turn", SpanKind::kAgent, t.tenant);
  const std::string trace_id = root.trace_id();
  root.Set("session.id", t.session).Set("agent.name", t.agent).Set("input.value", "how much?");
  clock.AdvanceMillis(1);
  {
    core::Span routing = tracer.StartChild(root, "routing", SpanKind::kChain);
    routing.Set("agent.category", t.agent).Set("router.confidence", 0.93);
    clock.AdvanceMillis(2);
  }
  {
    core::Span respond = tracer.StartChild(root, "respond", SpanKind::kChain);
    clock.AdvanceMillis(1);
    {
      core::Span search = tracer.StartChild(respond, "search_memory", SpanKind::kRetriever);
      search.Set("retrieval.documents.0.document.content", "plan: R$ 99")
          .Set("retrieval.documents.0.document.score", t.similarity)
          .Set("retrieval.average_similarity", t.similarity);
      clock.AdvanceMillis(3);
    }
    {
      core::Span rerank = tracer.StartChild(respond, "rerank", SpanKind::kReranker);
      rerank.Set("retrieval.rerank_gain", t.rerank_gain);
      clock.AdvanceMillis(1);
    }
    for (int i = 0; i < t.llm_calls; ++i) {
      core::Span llm = tracer.StartChild(respond, "llm.chat", SpanKind::kLlm);
      llm.Set("llm.model_name", t.model)
          .Set("agent.name", t.agent)
          .Set("llm.token_count.prompt", t.prompt)
          .Set("llm.token_count.completion", t.completion)
          .Set("llm.token_count.total", t.prompt + t.completion)
          .Set("llm.token_count.cached", t.cached)
          .Set("llm.cost_usd", t.cost);
      clock.AdvanceMillis(10);
    }
    {
      core::Span tool = tracer.StartChild(respond, "tool.make_offer", SpanKind::kTool);
      tool.Set("tool.name", "make_offer").Set("offer.discount_percent", 10);
      clock.AdvanceMillis(2);
    }
  }
  {
    core::Span guard = tracer.StartChild(root, "groundedness", SpanKind::kGuardrail);
    guard.Set("guardrail.groundedness", t.groundedness).Set("guardrail.replaced", t.replaced);
    if (t.groundedness < 1) guard.Set("guardrail.unsupported", "20% discount");
    guard.Set("output.value", t.reply);
    clock.AdvanceMillis(1);
  }
  root.Set("output.value", t.reply);
  clock.AdvanceMillis(1);
  root.End();
  return trace_id;
}
constexpr int kSpansPerTurn = 8;  // with one LLM call

struct Fixture {
  explicit Fixture(core::DbEngine engine, SpanStore::Options options = {})
      : test_db(engine),
        db(test_db.OpenMigrated()),
        store(*db, clock, options, &metrics),
        tracer(clock, &store) {}

  int64_t Count(const std::string& sql) {
    auto conn = db->Acquire();
    REQUIRE(conn.ok());
    auto rows = (*conn)->Query(sql);
    INFO(rows.status().ToString());
    REQUIRE(rows.ok());
    return rows->rows.at(0).GetInt(0);
  }
  void Flush() {
    Status st = store.Flush();
    INFO(st.ToString());
    REQUIRE(st.ok());
  }
  double CounterValue(const std::string& name, const core::Labels& labels = {}) {
    return metrics.GetCounter(name, "", labels).Value();
  }

  testing::TestDb test_db;
  std::unique_ptr<core::Database> db;
  core::VirtualClock clock;
  core::MetricsRegistry metrics;
  SpanStore store;
  core::Tracer tracer;
};

const observability::SpanNode* Child(const observability::SpanNode& node, const std::string& name) {
  for (const auto& c : node.children) {
    if (c.span.name == name) return &c;
  }
  return nullptr;
}

}  // namespace

VENTROS_DB_TEST("SpanStore: a turn is stored as a span tree with its attributes",
                "[observability]") {
  Fixture f(engine);
  const std::string trace_id = Turn(f.tracer, f.clock, TurnSpec{});
  f.Flush();
  CHECK(f.Count("SELECT COUNT(*) FROM spans") == kSpansPerTurn);

  auto tree = f.store.GetTrace(kTenantA, trace_id);
  INFO(tree.status().ToString());
  REQUIRE(tree.ok());
  CHECK(tree->spans == kSpansPerTurn);
  CHECK(tree->end_us - tree->start_us == 22'000);
  REQUIRE(tree->roots.size() == 1);
  const auto& root = tree->roots[0];
  CHECK(root.span.name == "agent.turn");
  CHECK(root.span.kind == "AGENT");
  CHECK(root.span.parent_span_id.empty());
  CHECK(root.span.end_us - root.span.start_us == 22'000);
  REQUIRE(root.children.size() == 3);
  CHECK(root.children[0].span.name == "routing");  // by start time
  CHECK(root.children[1].span.name == "respond");
  CHECK(root.children[2].span.name == "groundedness");
  CHECK(root.children[2].span.kind == "GUARDRAIL");
  const auto& respond = root.children[1];
  REQUIRE(respond.children.size() == 4);
  CHECK(respond.children[0].span.kind == "RETRIEVER");
  CHECK(respond.children[1].span.kind == "RERANKER");
  CHECK(respond.children[2].span.kind == "LLM");
  CHECK(respond.children[3].span.kind == "TOOL");
  CHECK(respond.children[3].span.parent_span_id == respond.span.span_id);
  CHECK(respond.children[2].span.end_us - respond.children[2].span.start_us == 10'000);

  const auto* llm = Child(respond, "llm.chat");
  REQUIRE(llm);
  auto attrs = ParseJson(llm->span.attributes).as_object();
  CHECK(attrs.at("openinference.span.kind").as_string() == "LLM");
  CHECK(attrs.at("llm.model_name").as_string() == "gpt-4o-mini");
  CHECK(attrs.at("llm.token_count.prompt").as_int64() == 100);
  CHECK(attrs.at("llm.cost_usd").as_double() == Approx(0.002));
  auto guard = ParseJson(root.children[2].span.attributes).as_object();
  CHECK(guard.at("guardrail.replaced").as_bool() == false);
  CHECK(guard.at("guardrail.groundedness").as_double() == Approx(1.0));
  CHECK(ParseJson(root.span.attributes).as_object().at("session.id").as_string() == "session-1");

  // Another tenant's trace does not exist for this one.
  auto other = f.store.GetTrace(kTenantB, trace_id);
  REQUIRE_FALSE(other.ok());
  CHECK(other.status().code() == core::StatusCode::kNotFound);
  auto unknown = f.store.GetTrace(kTenantA, core::NewTraceId());
  CHECK(unknown.status().code() == core::StatusCode::kNotFound);
}

VENTROS_DB_TEST(
    "SpanStore: errors, NUL bytes, bad UTF-8, long texts and duplicates are stored safely",
    "[observability]") {
  SpanStore::Options options;
  options.max_attribute_bytes = 64;
  Fixture f(engine, options);
  core::SpanData s;
  s.trace_id = core::NewTraceId();
  s.span_id = core::NewSpanId();
  s.tenant_id = kTenantA;
  s.name = std::string("tool\0call", 9);
  s.kind = SpanKind::kTool;
  s.start_us = f.clock.NowMillis() * 1000;
  s.end_us = s.start_us + 1500;
  s.error = true;
  s.status_message = "timeout \xff\xfe";
  s.attributes = {{"input.value", std::string("a\0b\xc3(", 5)},
                  {"output.value", std::string(200, 'x')},
                  {"score", std::numeric_limits<double>::quiet_NaN()},
                  {"count", int64_t{3}},
                  {"count", int64_t{4}}};
  f.store.Export(s);
  f.store.Export(s);  // exported twice: stored once
  f.Flush();
  CHECK(f.Count("SELECT COUNT(*) FROM spans") == 1);
  auto tree = f.store.GetTrace(kTenantA, s.trace_id);
  REQUIRE(tree.ok());
  const auto& span = tree->roots.at(0).span;
  CHECK(span.name == "toolcall");
  CHECK(span.error);
  CHECK(span.status_message == "timeout \xEF\xBF\xBD\xEF\xBF\xBD");
  auto attrs = ParseJson(span.attributes).as_object();
  CHECK(attrs.at("input.value").as_string() == "ab\xEF\xBF\xBD(");
  CHECK(attrs.at("output.value").as_string() == std::string(64, 'x') + "\xE2\x80\xA6");
  CHECK(attrs.at("score").is_null());
  CHECK(attrs.at("count").as_int64() == 4);  // the last value set
}

VENTROS_DB_TEST("SpanStore: ListTraces filters by session, agent and time with totals per trace",
                "[observability]") {
  Fixture f(engine);
  const int64_t t0 = f.clock.NowMillis();
  TurnSpec first;
  first.llm_calls = 2;
  first.groundedness = 0.5;
  const std::string a1 = Turn(f.tracer, f.clock, first);
  f.clock.AdvanceMillis(60'000);
  const int64_t t1 = f.clock.NowMillis();
  TurnSpec second;
  second.session = "session-2";
  second.agent = "support";
  const std::string a2 = Turn(f.tracer, f.clock, second);
  f.clock.AdvanceMillis(60'000);
  TurnSpec other;
  other.tenant = kTenantB;
  const std::string b1 = Turn(f.tracer, f.clock, other);
  f.Flush();

  auto all = f.store.ListTraces(kTenantA, TraceFilter{});
  INFO(all.status().ToString());
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  const auto& newest = (*all)[0];
  CHECK(newest.trace_id == a2);  // newest first
  CHECK(newest.name == "agent.turn");
  CHECK(newest.kind == "AGENT");
  CHECK(newest.session_id == "session-2");
  CHECK(newest.agent == "support");
  CHECK(newest.spans == kSpansPerTurn);
  CHECK_FALSE(newest.error);
  CHECK(newest.duration_ms == Approx(22.0));
  CHECK(newest.start_us == t1 * 1000);
  const auto& older = (*all)[1];
  CHECK(older.trace_id == a1);
  CHECK(older.spans == kSpansPerTurn + 1);
  CHECK(older.prompt_tokens == 200);
  CHECK(older.completion_tokens == 40);
  CHECK(older.total_tokens == 240);
  CHECK(older.cost_usd == Approx(0.004));
  REQUIRE(older.groundedness);
  CHECK(*older.groundedness == Approx(0.5));
  CHECK(older.duration_ms == Approx(32.0));

  TraceFilter by_session;
  by_session.session_id = "session-1";
  auto s1 = f.store.ListTraces(kTenantA, by_session);
  REQUIRE(s1.ok());
  REQUIRE(s1->size() == 1);
  CHECK((*s1)[0].trace_id == a1);

  TraceFilter by_agent;
  by_agent.agent = "support";
  auto support = f.store.ListTraces(kTenantA, by_agent);
  REQUIRE(support.ok());
  REQUIRE(support->size() == 1);
  CHECK((*support)[0].trace_id == a2);
  by_agent.agent = "nobody";
  CHECK(f.store.ListTraces(kTenantA, by_agent)->empty());

  TraceFilter since;
  since.since_ms = t0 + 1;
  auto recent = f.store.ListTraces(kTenantA, since);
  REQUIRE(recent.ok());
  REQUIRE(recent->size() == 1);
  CHECK((*recent)[0].trace_id == a2);
  since.since_ms = t0;
  CHECK(f.store.ListTraces(kTenantA, since)->size() == 2);

  TraceFilter one;
  one.limit = 1;
  auto limited = f.store.ListTraces(kTenantA, one);
  REQUIRE(limited->size() == 1);
  CHECK((*limited)[0].trace_id == a2);

  auto tenant_b = f.store.ListTraces(kTenantB, TraceFilter{});
  REQUIRE(tenant_b.ok());
  REQUIRE(tenant_b->size() == 1);
  CHECK((*tenant_b)[0].trace_id == b1);
  CHECK(f.store.ListTraces("tenant-c", TraceFilter{})->empty());
}

VENTROS_DB_TEST("SpanStore: a trace with two roots is listed once", "[observability]") {
  Fixture f(engine);
  core::Span first = f.tracer.StartTrace("agent.turn", SpanKind::kAgent, kTenantA);
  const std::string trace_id = first.trace_id();
  f.clock.AdvanceMillis(5);
  first.End();
  core::Span second = f.tracer.StartTrace("memory.update", SpanKind::kChain, kTenantA, trace_id);
  f.clock.AdvanceMillis(5);
  second.End();
  f.Flush();
  auto list = f.store.ListTraces(kTenantA, TraceFilter{});
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK((*list)[0].name == "agent.turn");
  CHECK((*list)[0].spans == 2);
  auto tree = f.store.GetTrace(kTenantA, trace_id);
  REQUIRE(tree.ok());
  REQUIRE(tree->roots.size() == 2);
  CHECK(tree->roots[1].span.name == "memory.update");
}

VENTROS_DB_TEST("SpanStore: sampling 0 keeps no spans but still counts usage", "[observability]") {
  SpanStore::Options options;
  options.sample_ratio = 0.0;
  Fixture f(engine, options);
  TurnSpec t;
  t.llm_calls = 3;
  Turn(f.tracer, f.clock, t);
  f.Flush();
  CHECK(f.Count("SELECT COUNT(*) FROM spans") == 0);
  CHECK(f.store.ListTraces(kTenantA, TraceFilter{})->empty());
  auto usage = f.store.Usage(kTenantA, UsageGroup::kAgent, std::nullopt);
  REQUIRE(usage.ok());
  REQUIRE(usage->size() == 1);
  CHECK((*usage)[0].key == "sales");
  CHECK((*usage)[0].calls == 3);
  CHECK((*usage)[0].prompt_tokens == 300);
  CHECK((*usage)[0].cost_usd == Approx(0.006));
  CHECK(f.CounterValue("ventros_trace_spans_total", {{"kind", "LLM"}}) == 3);
  CHECK(f.store.dropped() == 0);
}

VENTROS_DB_TEST("SpanStore: sampling 0.5 keeps about half the traces and each one whole",
                "[observability]") {
  SpanStore::Options options;
  options.sample_ratio = 0.5;
  Fixture f(engine, options);
  constexpr int kTraces = 200;
  int expected = 0;
  for (int i = 0; i < kTraces; ++i) {
    core::Span root = f.tracer.StartTrace("turn", SpanKind::kAgent, kTenantA);
    if (f.store.Sampled(root.trace_id())) ++expected;
    for (int c = 0; c < 2; ++c) {
      core::Span child = f.tracer.StartChild(root, "step", SpanKind::kChain);
      f.clock.AdvanceMillis(1);
    }
  }
  f.Flush();
  auto conn = f.db->Acquire();
  REQUIRE(conn.ok());
  auto rows = (*conn)->Query("SELECT trace_id, COUNT(*) FROM spans GROUP BY trace_id");
  REQUIRE(rows.ok());
  for (const auto& row : rows->rows) {
    INFO(row.GetText(0));
    CHECK(row.GetInt(1) == 3);  // never a partial trace
  }
  const auto kept = static_cast<int>(rows->rows.size());
  CHECK(kept == expected);
  // Binomial(200, 0.5): 70..130 is more than 4 standard deviations either side.
  CHECK(kept >= 70);
  CHECK(kept <= 130);
}

VENTROS_DB_TEST("SpanStore: a full queue drops spans and counts them", "[observability]") {
  SpanStore::Options options;
  options.queue_capacity = 5;
  Fixture f(engine, options);
  core::Span root = f.tracer.StartTrace("turn", SpanKind::kAgent, kTenantA);
  for (int i = 0; i < 8; ++i) {
    core::Span child = f.tracer.StartChild(root, "step", SpanKind::kLlm);
    child.Set("llm.model_name", "m").Set("llm.token_count.prompt", 1);
  }
  CHECK(f.store.queued() == 5);
  CHECK(f.store.dropped() == 3);
  CHECK(f.CounterValue("ventros_trace_spans_dropped_total") == 3);
  root.End();
  CHECK(f.store.dropped() == 4);
  f.Flush();
  CHECK(f.store.queued() == 0);
  CHECK(f.Count("SELECT COUNT(*) FROM spans") == 5);
  // Usage does not go through the queue: all eight calls count.
  auto usage = f.store.Usage(kTenantA, UsageGroup::kDay, std::nullopt);
  REQUIRE(usage.ok());
  REQUIRE(usage->size() == 1);
  CHECK((*usage)[0].calls == 8);
  CHECK((*usage)[0].prompt_tokens == 8);
}

VENTROS_DB_TEST("SpanStore: the writer thread writes in the background and Stop flushes",
                "[observability]") {
  SpanStore::Options options;
  options.flush_interval = std::chrono::milliseconds(10);
  options.batch = 3;
  Fixture f(engine, options);
  f.store.Start();
  Turn(f.tracer, f.clock, TurnSpec{});
  CHECK(
      testing::Eventually([&] { return f.Count("SELECT COUNT(*) FROM spans") == kSpansPerTurn; }));
  f.store.Stop();

  SpanStore::Options slow;
  slow.flush_interval = std::chrono::hours(1);
  SpanStore store(*f.db, f.clock, slow);
  core::Tracer tracer(f.clock, &store);
  store.Start();
  Turn(tracer, f.clock, TurnSpec{});
  store.Stop();  // writes what is queued before returning
  CHECK(f.Count("SELECT COUNT(*) FROM spans") == 2 * kSpansPerTurn);
  store.Stop();  // idempotent
}

VENTROS_DB_TEST("SpanStore: Sweep deletes spans older than the retention", "[observability]") {
  SpanStore::Options options;
  options.retention_days = 14;
  Fixture f(engine, options);
  const std::string old_trace = Turn(f.tracer, f.clock, TurnSpec{});
  f.clock.AdvanceMillis(10 * kDayMs);
  const std::string recent_trace = Turn(f.tracer, f.clock, TurnSpec{});
  f.Flush();
  auto none = f.store.Sweep();
  REQUIRE(none.ok());
  CHECK(*none == 0);
  f.clock.AdvanceMillis(5 * kDayMs);  // the first is 15 days old, the second 5
  auto swept = f.store.Sweep();
  INFO(swept.status().ToString());
  REQUIRE(swept.ok());
  CHECK(*swept == kSpansPerTurn);
  CHECK(f.store.GetTrace(kTenantA, old_trace).status().code() == core::StatusCode::kNotFound);
  CHECK(f.store.GetTrace(kTenantA, recent_trace).ok());
  // Usage is an aggregate and is kept longer (usage_retention_days, 400 by default).
  auto usage = f.store.Usage(kTenantA, UsageGroup::kDay, std::nullopt);
  REQUIRE(usage.ok());
  CHECK(usage->size() == 2);
  f.clock.AdvanceMillis(390 * kDayMs);  // the first day is now 405 days old, the second 395
  REQUIRE(f.store.Sweep().ok());
  usage = f.store.Usage(kTenantA, UsageGroup::kDay, std::nullopt);
  REQUIRE(usage.ok());
  CHECK(usage->size() == 1);
}

VENTROS_DB_TEST("SpanStore: usage per agent and per day adds up", "[observability]") {
  Fixture f(engine);
  // 2026-01-01: sales 2 calls on model a, support 1 call on model b.
  TurnSpec sales;
  sales.llm_calls = 2;
  sales.prompt = 100;
  sales.completion = 50;
  sales.cached = 30;
  sales.cost = 0.01;
  sales.model = "model-a";
  Turn(f.tracer, f.clock, sales);
  TurnSpec support;
  support.agent = "support";
  support.model = "model-b";
  support.prompt = 1000;
  support.completion = 10;
  support.cached = 0;
  support.cost = 0.05;
  Turn(f.tracer, f.clock, support);
  f.Flush();  // a second write adds to the same rows
  // 2026-01-02: sales 1 call on model b.
  f.clock.AdvanceMillis(kDayMs);
  const int64_t day2 = f.clock.NowMillis();
  sales.llm_calls = 1;
  sales.model = "model-b";
  Turn(f.tracer, f.clock, sales);
  // An LLM span without the total counts prompt + completion; one without an agent counts
  // under "".
  {
    core::Span llm = f.tracer.StartTrace("llm.chat", SpanKind::kLlm, kTenantA);
    llm.Set("llm.model_name", "model-a")
        .Set("llm.token_count.prompt", 7)
        .Set("llm.token_count.completion", 3)
        .Set("llm.token_count.prompt_details.cache_read", 2);
  }
  // Another tenant's usage stays apart.
  TurnSpec other;
  other.tenant = kTenantB;
  Turn(f.tracer, f.clock, other);
  f.Flush();
  CHECK(f.Count("SELECT COUNT(*) FROM usage_daily WHERE tenant_id = 'tenant-a'") == 4);

  auto by_day = f.store.Usage(kTenantA, UsageGroup::kDay, std::nullopt);
  INFO(by_day.status().ToString());
  REQUIRE(by_day.ok());
  REQUIRE(by_day->size() == 2);
  const auto& d1 = (*by_day)[0];
  CHECK(d1.key == "2026-01-01");
  CHECK(d1.calls == 3);
  CHECK(d1.prompt_tokens == 1200);
  CHECK(d1.completion_tokens == 110);
  CHECK(d1.cached_tokens == 60);
  CHECK(d1.total_tokens == 1310);
  CHECK(d1.cost_usd == Approx(0.07));
  const auto& d2 = (*by_day)[1];
  CHECK(d2.key == "2026-01-02");
  CHECK(d2.calls == 2);
  CHECK(d2.prompt_tokens == 107);
  CHECK(d2.completion_tokens == 53);
  CHECK(d2.cached_tokens == 32);
  CHECK(d2.total_tokens == 160);
  CHECK(d2.cost_usd == Approx(0.01));

  auto by_agent = f.store.Usage(kTenantA, UsageGroup::kAgent, std::nullopt);
  REQUIRE(by_agent.ok());
  REQUIRE(by_agent->size() == 3);
  CHECK((*by_agent)[0].key == "support");  // by cost, highest first
  CHECK((*by_agent)[0].calls == 1);
  CHECK((*by_agent)[0].cost_usd == Approx(0.05));
  CHECK((*by_agent)[1].key == "sales");
  CHECK((*by_agent)[1].calls == 3);
  CHECK((*by_agent)[1].prompt_tokens == 300);
  CHECK((*by_agent)[1].total_tokens == 450);
  CHECK((*by_agent)[1].cost_usd == Approx(0.03));
  CHECK((*by_agent)[2].key == "");
  CHECK((*by_agent)[2].total_tokens == 10);

  // since: from the UTC day that contains it.
  auto since = f.store.Usage(kTenantA, UsageGroup::kAgent, day2 + 3'600'000);
  REQUIRE(since.ok());
  REQUIRE(since->size() == 2);
  CHECK((*since)[0].key == "sales");
  CHECK((*since)[0].calls == 1);
}

VENTROS_DB_TEST("SpanStore: Flagged lists only ungrounded or replaced replies", "[observability]") {
  Fixture f(engine);
  Turn(f.tracer, f.clock, TurnSpec{});  // grounded
  TurnSpec ungrounded;
  ungrounded.session = "session-9";
  ungrounded.agent = "retention";
  ungrounded.groundedness = 0.4;
  ungrounded.reply = "You get a 20% discount forever.";
  f.clock.AdvanceMillis(1000);
  const int64_t at = f.clock.NowMillis();
  const std::string bad = Turn(f.tracer, f.clock, ungrounded);
  TurnSpec replaced;
  replaced.replaced = true;
  f.clock.AdvanceMillis(1000);
  const std::string swapped = Turn(f.tracer, f.clock, replaced);
  TurnSpec other;
  other.tenant = kTenantB;
  other.groundedness = 0.1;
  Turn(f.tracer, f.clock, other);
  f.Flush();

  auto flagged = f.store.Flagged(kTenantA, 50);
  INFO(flagged.status().ToString());
  REQUIRE(flagged.ok());
  REQUIRE(flagged->size() == 2);
  CHECK((*flagged)[0].trace_id == swapped);  // newest first
  CHECK((*flagged)[0].replaced);
  CHECK((*flagged)[0].score == Approx(1.0));
  const auto& b = (*flagged)[1];
  CHECK(b.trace_id == bad);
  CHECK(b.session_id == "session-9");
  CHECK(b.agent == "retention");
  REQUIRE(b.score);
  CHECK(*b.score == Approx(0.4));
  CHECK_FALSE(b.replaced);
  CHECK(b.reply == "You get a 20% discount forever.");
  CHECK(b.unsupported == "20% discount");
  CHECK(b.at_ms > at);
  CHECK(b.at_ms < at + 100);

  auto one = f.store.Flagged(kTenantA, 1);
  REQUIRE(one.ok());
  CHECK(one->size() == 1);
  CHECK(f.store.Flagged(kTenantB, 50)->size() == 1);
}

VENTROS_DB_TEST("SpanStore: RetrievalQuality averages similarity and rerank gain",
                "[observability]") {
  Fixture f(engine);
  auto empty = f.store.RetrievalQuality(kTenantA, std::nullopt);
  REQUIRE(empty.ok());
  CHECK(empty->searches == 0);
  CHECK_FALSE(empty->average_similarity);
  CHECK_FALSE(empty->average_rerank_gain);

  TurnSpec t;
  t.similarity = 0.6;
  t.rerank_gain = 0.2;
  Turn(f.tracer, f.clock, t);
  f.clock.AdvanceMillis(1000);
  const int64_t later = f.clock.NowMillis();
  t.similarity = 0.9;
  t.rerank_gain = 0.0;
  Turn(f.tracer, f.clock, t);
  TurnSpec other;
  other.tenant = kTenantB;
  other.similarity = 0.1;
  Turn(f.tracer, f.clock, other);
  f.Flush();

  auto q = f.store.RetrievalQuality(kTenantA, std::nullopt);
  INFO(q.status().ToString());
  REQUIRE(q.ok());
  CHECK(q->searches == 2);
  REQUIRE(q->average_similarity);
  CHECK(*q->average_similarity == Approx(0.75));
  CHECK(q->reranked == 2);
  REQUIRE(q->average_rerank_gain);
  CHECK(*q->average_rerank_gain == Approx(0.1));

  auto since = f.store.RetrievalQuality(kTenantA, later);
  REQUIRE(since.ok());
  CHECK(since->searches == 1);
  CHECK(*since->average_similarity == Approx(0.9));
}

// ---------------------------------------------------------------- REST

namespace {

// The routes behind a Router whose authenticator reads "Bearer <tenant>".
struct Api {
  explicit Api(SpanStore& store) {
    observability::RegisterObservabilityRoutes(router, store);
    router.SetAuthenticator([](const core::HttpRequest& req) -> core::Result<core::Principal> {
      const std::string auth = req.Header("Authorization");
      if (auth.rfind("Bearer ", 0) != 0) return Status::Unauthenticated("no key");
      return core::Principal{auth.substr(7), "key-1", core::Role::kReadonly};
    });
  }

  core::HttpResponse Get(const std::string& target, const std::string& tenant = kTenantA) {
    core::HttpRequest req;
    req.method = "GET";
    req.target = target;
    const auto q = target.find('?');
    req.path = core::PercentDecode(target.substr(0, q), false);
    req.query = q == std::string::npos ? "" : target.substr(q + 1);
    req.request_id = "req-1";
    if (!tenant.empty()) req.headers.emplace_back("Authorization", "Bearer " + tenant);
    auto match = router.Find("GET", req.path);
    if (!match.route) return core::HttpResponse::Json(404, "{}");
    req.path_params = match.params;
    return router.Dispatch(*match.route, req);
  }
  boost::json::object Ok(const std::string& target, const std::string& tenant = kTenantA) {
    auto res = Get(target, tenant);
    INFO(target << " -> " << res.body);
    REQUIRE(res.status == 200);
    return ParseJson(res.body).as_object();
  }

  core::Router router;
};

}  // namespace

VENTROS_DB_TEST("Observability REST: traces, usage, flagged replies and retrieval quality",
                "[observability][rest]") {
  Fixture f(engine);
  const int64_t t0 = f.clock.NowMillis();
  TurnSpec first;
  first.groundedness = 0.5;
  const std::string a1 = Turn(f.tracer, f.clock, first);
  f.clock.AdvanceMillis(60'000);
  TurnSpec second;
  second.session = "session-2";
  second.agent = "support";
  const std::string a2 = Turn(f.tracer, f.clock, second);
  f.Flush();
  Api api(f.store);

  auto list = api.Ok("/v1/traces");
  auto items = list.at("items").as_array();
  REQUIRE(items.size() == 2);
  auto t = items[0].as_object();
  CHECK(t.at("trace_id").as_string() == a2);
  CHECK(t.at("kind").as_string() == "AGENT");
  CHECK(t.at("status").as_string() == "ok");
  CHECK(t.at("session_id").as_string() == "session-2");
  CHECK(t.at("agent").as_string() == "support");
  CHECK(t.at("spans").as_int64() == kSpansPerTurn);
  CHECK(t.at("total_tokens").as_int64() == 120);
  CHECK(t.at("duration_ms").as_double() == Approx(22.0));
  CHECK(t.at("start").as_string() == core::FormatTimestamp(t0 + 60'000 + 22));
  CHECK(items[1].as_object().at("groundedness").as_double() == Approx(0.5));

  CHECK(api.Ok("/v1/traces?session_id=session-1").at("items").as_array().size() == 1);
  CHECK(api.Ok("/v1/traces?agent=support&limit=10").at("items").as_array().size() == 1);
  CHECK(api.Ok("/v1/traces?limit=1").at("items").as_array().size() == 1);
  // since as epoch ms, RFC 3339 in UTC and with an offset: the same instant.
  const int64_t cut = t0 + 1000;
  CHECK(api.Ok(fmt::format("/v1/traces?since={}", cut)).at("items").as_array().size() == 1);
  CHECK(api.Ok("/v1/traces?since=" + core::FormatTimestamp(cut)).at("items").as_array().size() ==
        1);
  CHECK(api.Ok("/v1/traces?since=2026-01-01T03:00:01%2B03:00").at("items").as_array().size() == 1);
  CHECK(api.Ok("/v1/traces?since=2025-12-31T21:00:00-03:00").at("items").as_array().size() == 2);
  CHECK(api.Ok("/v1/traces", kTenantB).at("items").as_array().empty());

  auto tree = api.Ok("/v1/traces/" + a1);
  CHECK(tree.at("trace_id").as_string() == a1);
  CHECK(tree.at("spans").as_int64() == kSpansPerTurn);
  CHECK(tree.at("duration_ms").as_double() == Approx(22.0));
  auto roots = tree.at("roots").as_array();
  REQUIRE(roots.size() == 1);
  auto root = roots[0].as_object();
  CHECK(root.at("name").as_string() == "agent.turn");
  CHECK(root.at("attributes").as_object().at("agent.name").as_string() == "sales");
  auto children = root.at("children").as_array();
  REQUIRE(children.size() == 3);
  auto respond = children[1].as_object();
  CHECK(respond.at("kind").as_string() == "CHAIN");
  auto llm = respond.at("children").as_array()[2].as_object();
  CHECK(llm.at("kind").as_string() == "LLM");
  CHECK(llm.at("duration_ms").as_double() == Approx(10.0));
  CHECK(llm.at("attributes").as_object().at("llm.token_count.completion").as_int64() == 20);
  CHECK(llm.at("children").as_array().empty());
  // Upper-case ids name the same trace; another tenant's is a 404.
  std::string upper = a1;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(api.Get("/v1/traces/" + upper).status == 200);
  CHECK(api.Get("/v1/traces/" + a1, kTenantB).status == 404);
  CHECK(api.Get("/v1/traces/" + core::NewTraceId()).status == 404);

  auto usage = api.Ok("/v1/usage");
  CHECK(usage.at("group_by").as_string() == "day");
  auto days = usage.at("items").as_array();
  REQUIRE(days.size() == 1);
  CHECK(days[0].as_object().at("key").as_string() == "2026-01-01");
  CHECK(days[0].as_object().at("calls").as_int64() == 2);
  CHECK(days[0].as_object().at("cached_tokens").as_int64() == 20);
  CHECK(days[0].as_object().at("total_tokens").as_int64() == 240);
  CHECK(days[0].as_object().at("cost_usd").as_double() == Approx(0.004));
  auto agents = api.Ok("/v1/usage?group_by=agent&since=2026-01-01T00:00:00Z").at("items");
  CHECK(agents.as_array().size() == 2);
  CHECK(api.Ok("/v1/usage?since=2026-01-02T00:00:00Z").at("items").as_array().empty());

  auto flagged = api.Ok("/v1/evaluations/flagged?limit=5").at("items").as_array();
  REQUIRE(flagged.size() == 1);
  auto fl = flagged[0].as_object();
  CHECK(fl.at("trace_id").as_string() == a1);
  CHECK(fl.at("session_id").as_string() == "session-1");
  CHECK(fl.at("agent").as_string() == "sales");
  CHECK(fl.at("score").as_double() == Approx(0.5));
  CHECK(fl.at("replaced").as_bool() == false);
  CHECK(fl.at("reply").as_string() == "Our plan costs R$ 99 per month.");
  CHECK(fl.at("unsupported").as_string() == "20% discount");
  CHECK(fl.at("at").as_string().size() == 24);

  auto quality = api.Ok("/v1/retrieval/quality");
  CHECK(quality.at("searches").as_int64() == 2);
  CHECK(quality.at("average_similarity").as_double() == Approx(0.8));
  CHECK(quality.at("reranked").as_int64() == 2);
  CHECK(quality.at("average_rerank_gain").as_double() == Approx(0.1));
  auto none = api.Ok("/v1/retrieval/quality?since=2030-01-01T00:00:00Z");
  CHECK(none.at("searches").as_int64() == 0);
  CHECK(none.at("average_similarity").is_null());
}

VENTROS_DB_TEST("Observability REST: bad parameters are 400s and a key is required",
                "[observability][rest]") {
  Fixture f(engine);
  Api api(f.store);
  for (const std::string target : {
           "/v1/traces?foo=1",
           "/v1/traces?since=yesterday",
           "/v1/traces?since=2026-13-01T00:00:00Z",
           "/v1/traces?since=2026-01-01T00:00:00%2B25:00",
           "/v1/traces?since=-5",
           "/v1/traces?limit=0",
           "/v1/traces?limit=501",
           "/v1/traces?limit=ten",
           "/v1/traces?session_id=",
           "/v1/traces/not-a-trace-id",
           "/v1/traces/0123456789abcdef0123456789abcdeg",
           "/v1/traces/0123456789abcdef0123456789abcdef?x=1",
           "/v1/usage?group_by=model",
           "/v1/usage?since=abc",
           "/v1/usage?limit=5",
           "/v1/evaluations/flagged?limit=-1",
           "/v1/evaluations/flagged?since=0",
           "/v1/retrieval/quality?since=1e9",
           "/v1/retrieval/quality?limit=3",
       }) {
    auto res = api.Get(target);
    INFO(target << " -> " << res.body);
    CHECK(res.status == 400);
    CHECK(ParseJson(res.body).as_object().at("error").as_object().at("code").as_string() != "");
  }
  CHECK(api.Get("/v1/traces", "").status == 401);
  CHECK(api.Get("/v1/usage?group_by=agent").status == 200);
  CHECK(api.Get("/v1/evaluations/flagged").status == 200);
}

TEST_CASE("Trace ids: 32 and 16 lowercase hex digits, never repeated, on any thread", "[trace]") {
  auto hex = [](const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
      return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
    });
  };
  std::set<std::string> seen;
  std::mutex mu;
  auto draw = [&] {
    std::vector<std::string> mine;
    for (int i = 0; i < 5000; ++i) {
      mine.push_back(core::NewTraceId());
      mine.push_back(core::NewSpanId());
    }
    std::lock_guard lock(mu);
    for (auto& id : mine) {
      CHECK(((id.size() == 32 || id.size() == 16) && hex(id)));
      CHECK(id != std::string(id.size(), '0'));
      seen.insert(std::move(id));
    }
  };
  std::thread a(draw), b(draw);
  a.join();
  b.join();
  draw();
  CHECK(seen.size() == 30000);  // threads seed apart: no id twice
}

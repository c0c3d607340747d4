// REST edges of the span store: traces, the span tree of one, usage, flagged replies, retrieval
// quality. Read-only; the tenant comes from the API key only (another tenant's trace is a 404).
// Shapes are documented in store.hpp.

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "ventros/core/json.hpp"
#include "ventros/observability/store.hpp"

namespace ventros::observability {

using core::HttpRequest;
using core::HttpResponse;
using core::Role;
namespace json = core::json;

namespace {

constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 500;
constexpr size_t kMaxFilterBytes = 256;

HttpResponse Fail(const HttpRequest& req, const Status& status) {
  return HttpResponse::FromStatus(status, req.request_id);
}

const std::string& TenantOf(const HttpRequest& req) { return req.principal->tenant_id; }

Result<int> LimitParam(const HttpRequest& req) {
  auto text = req.QueryParam("limit");
  if (!text) return kDefaultLimit;
  int v = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || end != text->data() + text->size() || v < 1 || v > kMaxLimit) {
    return Status::InvalidArgument(fmt::format("query parameter 'limit' must be 1..{}", kMaxLimit));
  }
  return v;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// RFC 3339 (UTC "Z" or a "+hh:mm" / "-hh:mm" offset) or epoch milliseconds.
std::optional<int64_t> ParseTime(std::string_view text) {
  if (AllDigits(text)) {
    int64_t ms = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return ms;
  }
  if (auto ms = core::ParseTimestamp(text)) return ms;
  constexpr size_t kOffsetLen = 6;  // "+hh:mm"
  if (text.size() <= kOffsetLen) return std::nullopt;
  std::string_view offset = text.substr(text.size() - kOffsetLen);
  if ((offset[0] != '+' && offset[0] != '-') || offset[3] != ':' ||
      !AllDigits(offset.substr(1, 2)) || !AllDigits(offset.substr(4, 2))) {
    return std::nullopt;
  }
  const int hours = (offset[1] - '0') * 10 + (offset[2] - '0');
  const int minutes = (offset[4] - '0') * 10 + (offset[5] - '0');
  if (hours > 23 || minutes > 59) return std::nullopt;
  auto base = core::ParseTimestamp(std::string(text.substr(0, text.size() - kOffsetLen)) + "Z");
  if (!base) return std::nullopt;
  const int64_t shift = (int64_t{hours} * 60 + minutes) * 60'000;
  return offset[0] == '+' ? *base - shift : *base + shift;
}

Result<std::optional<int64_t>> SinceParam(const HttpRequest& req) {
  auto text = req.QueryParam("since");
  if (!text) return std::optional<int64_t>();
  auto ms = ParseTime(*text);
  if (!ms) {
    return Status::InvalidArgument(
        "query parameter 'since' must be an RFC 3339 time or epoch milliseconds");
  }
  return std::optional<int64_t>(*ms);
}

Result<std::optional<std::string>> TextParam(const HttpRequest& req, std::string_view name) {
  auto text = req.QueryParam(name);
  if (!text) return std::optional<std::string>();
  if (text->empty() || text->size() > kMaxFilterBytes) {
    return Status::InvalidArgument(
        fmt::format("query parameter '{}' must be 1..{} bytes", name, kMaxFilterBytes));
  }
  return text;
}

json::value OptNumber(const std::optional<double>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

json::value SummaryJson(const TraceSummary& t) {
  return json::object{{"trace_id", t.trace_id},
                      {"span_id", t.span_id},
                      {"name", t.name},
                      {"kind", t.kind},
                      {"start", core::FormatTimestamp(t.start_us / 1000)},
                      {"duration_ms", t.duration_ms},
                      {"status", t.error ? "error" : "ok"},
                      {"session_id", t.session_id},
                      {"agent", t.agent},
                      {"spans", t.spans},
                      {"prompt_tokens", t.prompt_tokens},
                      {"completion_tokens", t.completion_tokens},
                      {"total_tokens", t.total_tokens},
                      {"cost_usd", t.cost_usd},
                      {"groundedness", OptNumber(t.groundedness)}};
}

json::value NodeJson(const SpanNode& n) {
  const StoredSpan& s = n.span;
  boost::system::error_code ec;
  json::value attrs = json::parse(s.attributes, ec);
  if (ec || !attrs.is_object()) attrs = json::object();
  json::array children;
  for (const auto& c : n.children) children.push_back(NodeJson(c));
  return json::object{{"span_id", s.span_id},
                      {"parent_span_id", s.parent_span_id},
                      {"name", s.name},
                      {"kind", s.kind},
                      {"start", core::FormatTimestamp(s.start_us / 1000)},
                      {"start_us", s.start_us},
                      {"end_us", s.end_us},
                      {"duration_ms", static_cast<double>(s.end_us - s.start_us) / 1000.0},
                      {"status", s.error ? "error" : "ok"},
                      {"status_message", s.status_message},
                      {"attributes", std::move(attrs)},
                      {"children", std::move(children)}};
}

bool IsTraceId(std::string_view id) {
  return id.size() == 32 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

}  // namespace

void RegisterObservabilityRoutes(core::Router& router, SpanStore& store) {
  router.Add(
      "GET", "/v1/traces",
      [&store](HttpRequest& req) {
        if (auto st =
                core::RejectUnknownQueryParams(req, {"session_id", "agent", "since", "limit"});
            !st.ok()) {
          return Fail(req, st);
        }
        TraceFilter filter;
        auto session = TextParam(req, "session_id");
        if (!session.ok()) return Fail(req, session.status());
        filter.session_id = *session;
        auto agent = TextParam(req, "agent");
        if (!agent.ok()) return Fail(req, agent.status());
        filter.agent = *agent;
        auto since = SinceParam(req);
        if (!since.ok()) return Fail(req, since.status());
        filter.since_ms = *since;
        auto limit = LimitParam(req);
        if (!limit.ok()) return Fail(req, limit.status());
        filter.limit = *limit;
        auto traces = store.ListTraces(TenantOf(req), filter);
        if (!traces.ok()) return Fail(req, traces.status());
        json::array items;
        for (const auto& t : *traces) items.push_back(SummaryJson(t));
        return HttpResponse::Json(200, json::serialize(json::object{{"items", std::move(items)}}));
      },
      {.min_role = Role::kReadonly,
       .summary = "List traces (newest first) with tokens, cost and groundedness"});

  router.Add(
      "GET", "/v1/traces/{id}",
      [&store](HttpRequest& req) {
        if (auto st = core::RejectUnknownQueryParams(req, {}); !st.ok()) return Fail(req, st);
        std::string id = req.PathParam("id");
        if (!IsTraceId(id)) {
          return Fail(req, Status::InvalidArgument("a trace id is 32 hexadecimal digits"));
        }
        std::transform(id.begin(), id.end(), id.begin(),
                       [](char c) { return c >= 'A' && c <= 'F' ? static_cast<char>(c + 32) : c; });
        auto tree = store.GetTrace(TenantOf(req), id);
        if (!tree.ok()) return Fail(req, tree.status());
        json::array roots;
        for (const auto& r : tree->roots) roots.push_back(NodeJson(r));
        return HttpResponse::Json(
            200, json::serialize(json::object{
                     {"trace_id", tree->trace_id},
                     {"start", core::FormatTimestamp(tree->start_us / 1000)},
                     {"duration_ms", static_cast<double>(tree->end_us - tree->start_us) / 1000.0},
                     {"spans", tree->spans},
                     {"roots", std::move(roots)}}));
      },
      {.min_role = Role::kReadonly,
       .summary = "A trace's span tree with durations and attributes"});

  router.Add(
      "GET", "/v1/usage",
      [&store](HttpRequest& req) {
        if (auto st = core::RejectUnknownQueryParams(req, {"group_by", "since"}); !st.ok())
          return Fail(req, st);
        const std::string group_by = req.QueryParam("group_by").value_or("day");
        if (group_by != "agent" && group_by != "day") {
          return Fail(req,
                      Status::InvalidArgument("query parameter 'group_by' must be agent or day"));
        }
        auto since = SinceParam(req);
        if (!since.ok()) return Fail(req, since.status());
        auto rows = store.Usage(
            TenantOf(req), group_by == "agent" ? UsageGroup::kAgent : UsageGroup::kDay, *since);
        if (!rows.ok()) return Fail(req, rows.status());
        json::array items;
        for (const auto& u : *rows) {
          items.push_back(json::object{{"key", u.key},
                                       {"calls", u.calls},
                                       {"prompt_tokens", u.prompt_tokens},
                                       {"completion_tokens", u.completion_tokens},
                                       {"cached_tokens", u.cached_tokens},
                                       {"total_tokens", u.total_tokens},
                                       {"cost_usd", u.cost_usd}});
        }
        return HttpResponse::Json(200, json::serialize(json::object{{"group_by", group_by},
                                                                    {"items", std::move(items)}}));
      },
      {.min_role = Role::kReadonly, .summary = "LLM calls, tokens and cost per agent or per day"});

  router.Add(
      "GET", "/v1/evaluations/flagged",
      [&store](HttpRequest& req) {
        if (auto st = core::RejectUnknownQueryParams(req, {"limit"}); !st.ok())
          return Fail(req, st);
        auto limit = LimitParam(req);
        if (!limit.ok()) return Fail(req, limit.status());
        auto flagged = store.Flagged(TenantOf(req), *limit);
        if (!flagged.ok()) return Fail(req, flagged.status());
        json::array items;
        for (const auto& f : *flagged) {
          items.push_back(json::object{{"trace_id", f.trace_id},
                                       {"span_id", f.span_id},
                                       {"session_id", f.session_id},
                                       {"agent", f.agent},
                                       {"score", OptNumber(f.score)},
                                       {"replaced", f.replaced},
                                       {"reply", f.reply},
                                       {"unsupported", f.unsupported},
                                       {"at", core::FormatTimestamp(f.at_ms)}});
        }
        return HttpResponse::Json(200, json::serialize(json::object{{"items", std::move(items)}}));
      },
      {.min_role = Role::kReadonly, .summary = "Replies the groundedness check flagged"});

  router.Add("GET", "/v1/retrieval/quality",
             [&store](HttpRequest& req) {
               if (auto st = core::RejectUnknownQueryParams(req, {"since"}); !st.ok())
                 return Fail(req, st);
               auto since = SinceParam(req);
               if (!since.ok()) return Fail(req, since.status());
               auto q = store.RetrievalQuality(TenantOf(req), *since);
               if (!q.ok()) return Fail(req, q.status());
               return HttpResponse::Json(
                   200, json::serialize(json::object{
                            {"searches", q->searches},
                            {"average_similarity", OptNumber(q->average_similarity)},
                            {"reranked", q->reranked},
                            {"average_rerank_gain", OptNumber(q->average_rerank_gain)}}));
             },
             {.min_role = Role::kReadonly,
              .summary = "Retrieval quality: searches, average similarity, rerank gain"});
}

}  // namespace ventros::observability

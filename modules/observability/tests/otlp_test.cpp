#include "ventros/observability/otlp.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/fake_http_server.hpp"
#include "ventros/core/http_client.hpp"
#include "ventros/core/metrics.hpp"

namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using ventros::core::AttributeValue;
using ventros::core::HttpClient;
using ventros::core::HttpClientOptions;
using ventros::core::MetricsRegistry;
using ventros::core::SpanData;
using ventros::core::SpanKind;
using ventros::core::SpanSink;
using ventros::core::StatusCode;
using ventros::core::Tracer;
using ventros::core::VirtualClock;
using ventros::observability::EncodeOtlpTraces;
using ventros::observability::FanoutSink;
using ventros::observability::OtlpExporter;
using ventros::observability::OtlpExporterOptions;
using ventros::observability::OtlpResource;
using ventros::testing::FakeHttpServer;
using ventros::testing::FakeReply;
using ventros::testing::FakeRequest;

// ---- the independent decoder: protobufjs (npm) run by tests/otlp/decode.js -------------------

std::string SourceDir() {
  const char* dir = std::getenv("VENTROS_SOURCE_DIR");
  return dir ? dir : ".";
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::filesystem::path TempPath(const std::string& suffix) {
  static std::atomic<int> counter{0};
  return std::filesystem::temp_directory_path() /
         ("ventros-otlp-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + suffix);
}

// The decoder's JSON for `bytes`. Fails the test, saying how to fix it, when node or protobufjs
// is missing (scripts/setup installs both) or the bytes are not a canonical
// ExportTraceServiceRequest.
json::object DecodeWithNode(const std::string& bytes) {
  const std::filesystem::path script = std::filesystem::path(SourceDir()) / "tests/otlp/decode.js";
  if (!std::filesystem::exists(script)) {
    FAIL("tests/otlp/decode.js not found under VENTROS_SOURCE_DIR='" << SourceDir() << "'");
  }
  if (std::system("command -v node >/dev/null 2>&1") != 0) {
    FAIL("node is not installed, so the OTLP bytes cannot be checked: run scripts/setup");
  }
  const auto input = TempPath(".bin");
  const auto errors = TempPath(".err");
  {
    std::ofstream out(input, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  const std::string command =
      "node '" + script.string() + "' '" + input.string() + "' 2>'" + errors.string() + "'";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  const int status = ::pclose(pipe);
  const std::string stderr_text = ReadFile(errors);
  std::filesystem::remove(input);
  std::filesystem::remove(errors);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 2) FAIL(stderr_text);  // protobufjs missing: the message says to run scripts/setup
  if (code != 0) FAIL("decode.js failed (exit " << code << "): " << stderr_text);
  json::value value = json::parse(output);
  REQUIRE(value.is_object());
  return value.as_object();
}

std::string Str(const json::value& v) { return std::string(v.as_string()); }

// {key: {type, value}} of a decoded KeyValue list, in order.
struct Attribute {
  std::string key;
  std::string type;  // "stringValue", "intValue", "doubleValue", "boolValue"
  json::value value;
};
std::vector<Attribute> Attributes(const json::value& list) {
  std::vector<Attribute> out;
  for (const auto& kv : list.as_array()) {
    const auto& any = kv.at("value").as_object();
    const std::string type = Str(any.at("value"));  // protobufjs names the oneof member set
    out.push_back({Str(kv.at("key")), type, any.at(type)});
  }
  return out;
}

const Attribute& Find(const std::vector<Attribute>& attributes, const std::string& key) {
  for (const auto& a : attributes) {
    if (a.key == key) return a;
  }
  FAIL("attribute " << key << " missing");
  return attributes.front();
}

void CheckString(const std::vector<Attribute>& attributes, const std::string& key,
                 const std::string& value) {
  const auto& a = Find(attributes, key);
  CHECK(a.type == "stringValue");
  CHECK(Str(a.value) == value);
}

void CheckInt(const std::vector<Attribute>& attributes, const std::string& key, int64_t value) {
  const auto& a = Find(attributes, key);
  CHECK(a.type == "intValue");
  CHECK(Str(a.value) == std::to_string(value));  // int64 comes back as a decimal string
}

void CheckDouble(const std::vector<Attribute>& attributes, const std::string& key, double value) {
  const auto& a = Find(attributes, key);
  CHECK(a.type == "doubleValue");
  CHECK(a.value.to_number<double>() == value);
}

void CheckBool(const std::vector<Attribute>& attributes, const std::string& key, bool value) {
  const auto& a = Find(attributes, key);
  CHECK(a.type == "boolValue");
  CHECK(a.value.as_bool() == value);
}

// ---- spans --------------------------------------------------------------------------------------

constexpr const char* kTraceA = "0af7651916cd43dd8448eb211c80319c";
constexpr const char* kTraceB = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr int64_t kStart = 1'700'000'000'123'456;  // epoch microseconds

SpanData MakeSpan(std::string trace_id, std::string span_id, std::string parent, std::string tenant,
                  std::string name, SpanKind kind, int64_t start_offset, int64_t duration) {
  SpanData span;
  span.trace_id = std::move(trace_id);
  span.span_id = std::move(span_id);
  span.parent_span_id = std::move(parent);
  span.tenant_id = std::move(tenant);
  span.name = std::move(name);
  span.kind = kind;
  span.start_us = kStart + start_offset;
  span.end_us = span.start_us + duration;
  // As Tracer does: the OpenInference kind first.
  span.attributes.emplace_back("openinference.span.kind",
                               std::string(ventros::core::SpanKindName(kind)));
  return span;
}

// One agent turn of tenant A (AGENT root, RETRIEVER, EMBEDDING, LLM, TOOL that failed), a turn of
// tenant B in between (CHAIN root, GUARDRAIL), and a system span without a tenant.
std::vector<SpanData> Turns() {
  std::vector<SpanData> spans;
  SpanData root = MakeSpan(kTraceA, "00f067aa0ba902b7", "", "tenant-a", "coordinator",
                           SpanKind::kAgent, 0, 250'000);
  root.attributes.emplace_back("session.id", std::string("sess-1"));
  root.attributes.emplace_back("input.value", std::string("Qual é o preço do plano anual? 🙂"));
  root.attributes.emplace_back("output.value", std::string(20'000, 'x'));  // 3-byte length
  root.attributes.emplace_back("ventros.turn", int64_t{0});
  root.attributes.emplace_back("ventros.int.max", std::numeric_limits<int64_t>::max());
  root.attributes.emplace_back("ventros.int.min", std::numeric_limits<int64_t>::min());
  root.attributes.emplace_back("ventros.int.negative", int64_t{-42});
  root.attributes.emplace_back("ventros.double", 0.875);
  root.attributes.emplace_back("ventros.double.tenth", 0.1);
  root.attributes.emplace_back("ventros.double.negative", -1234.5);
  root.attributes.emplace_back("ventros.double.zero", 0.0);
  root.attributes.emplace_back("ventros.double.large", 6.02214076e23);
  root.attributes.emplace_back("ventros.flag.true", true);
  root.attributes.emplace_back("ventros.flag.false", false);
  root.attributes.emplace_back("ventros.empty", std::string());
  spans.push_back(std::move(root));

  SpanData b_root = MakeSpan(kTraceB, "b7ad6b7169203331", "", "tenant-b", "workflow step",
                             SpanKind::kChain, 5, 1'000);
  spans.push_back(std::move(b_root));

  SpanData retriever = MakeSpan(kTraceA, "1111111111111111", "00f067aa0ba902b7", "tenant-a",
                                "search_memory", SpanKind::kRetriever, 1'000, 40'000);
  retriever.attributes.emplace_back("retrieval.documents.0.document.content",
                                    std::string("Plano anual: R$ 1.200"));
  retriever.attributes.emplace_back("retrieval.documents.0.document.score", 0.5);
  spans.push_back(std::move(retriever));

  SpanData embedding = MakeSpan(kTraceA, "2222222222222222", "1111111111111111", "tenant-a",
                                "embed query", SpanKind::kEmbedding, 1'500, 2'000);
  spans.push_back(std::move(embedding));

  SpanData llm = MakeSpan(kTraceA, "3333333333333333", "00f067aa0ba902b7", "tenant-a", "chat",
                          SpanKind::kLlm, 50'000, 150'000);
  llm.attributes.emplace_back("llm.model_name", std::string("gemini-2.5-flash"));
  llm.attributes.emplace_back("llm.token_count.prompt", int64_t{1'234});
  llm.attributes.emplace_back("llm.token_count.completion", int64_t{56});
  llm.attributes.emplace_back("llm.token_count.total", int64_t{1'290});
  spans.push_back(std::move(llm));

  SpanData guardrail = MakeSpan(kTraceB, "c7ad6b7169203331", "b7ad6b7169203331", "tenant-b",
                                "pii check", SpanKind::kGuardrail, 10, 100);
  spans.push_back(std::move(guardrail));

  SpanData tool = MakeSpan(kTraceA, "4444444444444444", "3333333333333333", "tenant-a",
                           "lookup_order", SpanKind::kTool, 100'000, 7'000);
  tool.attributes.emplace_back("tool.name", std::string("lookup_order"));
  tool.error = true;
  tool.status_message = "order 42 not found";
  spans.push_back(std::move(tool));

  SpanData system = MakeSpan("5bf92f3577b34da6a3ce929d0e0e4736", "d7ad6b7169203331", "", "",
                             "retention sweep", SpanKind::kChain, 0, 3);
  spans.push_back(std::move(system));
  return spans;
}

OtlpResource TestResource() {
  return OtlpResource{
      .service_name = "ventros", .service_version = "1.2.3", .project_name = "ventros-test"};
}

// The decoded spans of every ResourceSpans, flattened, in order.
std::vector<json::object> DecodedSpans(const json::object& request) {
  std::vector<json::object> spans;
  for (const auto& rs : request.at("resourceSpans").as_array()) {
    for (const auto& ss : rs.at("scopeSpans").as_array()) {
      for (const auto& span : ss.at("spans").as_array()) spans.push_back(span.as_object());
    }
  }
  return spans;
}

std::vector<std::string> Names(const std::vector<json::object>& spans) {
  std::vector<std::string> names;
  for (const auto& span : spans) names.push_back(Str(span.at("name")));
  return names;
}

TEST_CASE("EncodeOtlpTraces: protobufjs decodes every field of a multi-tenant batch", "[otlp]") {
  const std::vector<SpanData> input = Turns();
  const json::object request = DecodeWithNode(EncodeOtlpTraces(input, TestResource()));

  const auto& resource_spans = request.at("resourceSpans").as_array();
  REQUIRE(resource_spans.size() == 3);  // tenant-a, tenant-b, no tenant: in order of appearance
  const std::vector<std::string> tenants = {"tenant-a", "tenant-b", ""};
  const std::vector<std::vector<std::string>> names = {
      {"coordinator", "search_memory", "embed query", "chat", "lookup_order"},
      {"workflow step", "pii check"},
      {"retention sweep"}};
  for (size_t i = 0; i < resource_spans.size(); ++i) {
    INFO("ResourceSpans " << i);
    const auto& rs = resource_spans[i].as_object();
    const auto attributes = Attributes(rs.at("resource").at("attributes"));
    std::vector<std::string> keys;
    for (const auto& a : attributes) keys.push_back(a.key);
    std::vector<std::string> expected_keys = {"service.name", "service.version",
                                              "openinference.project.name"};
    if (!tenants[i].empty()) expected_keys.push_back("ventros.tenant_id");
    CHECK(keys == expected_keys);
    CheckString(attributes, "service.name", "ventros");
    CheckString(attributes, "service.version", "1.2.3");
    CheckString(attributes, "openinference.project.name", "ventros-test");
    if (!tenants[i].empty()) CheckString(attributes, "ventros.tenant_id", tenants[i]);

    const auto& scope_spans = rs.at("scopeSpans").as_array();
    REQUIRE(scope_spans.size() == 1);
    CHECK(Str(scope_spans[0].at("scope").at("name")) == "ventros");
    CHECK(Str(scope_spans[0].at("scope").at("version")) == "1.2.3");
    std::vector<std::string> span_names;
    for (const auto& span : scope_spans[0].at("spans").as_array()) {
      span_names.push_back(Str(span.at("name")));
    }
    CHECK(span_names == names[i]);
  }

  // Every span, field by field, against the input it came from.
  const std::vector<json::object> spans = DecodedSpans(request);
  REQUIRE(spans.size() == input.size());
  for (const auto& span : spans) {
    const std::string name = Str(span.at("name"));
    INFO("span " << name);
    const SpanData* source = nullptr;
    for (const auto& s : input) {
      if (s.name == name) source = &s;
    }
    REQUIRE(source != nullptr);
    CHECK(Str(span.at("traceId")) == source->trace_id);
    CHECK(Str(span.at("spanId")) == source->span_id);
    CHECK(Str(span.at("parentSpanId")) == source->parent_span_id);
    CHECK(Str(span.at("kind")) == "SPAN_KIND_INTERNAL");
    CHECK(Str(span.at("startTimeUnixNano")) == std::to_string(source->start_us * 1000));
    CHECK(Str(span.at("endTimeUnixNano")) == std::to_string(source->end_us * 1000));
    CHECK(Str(span.at("status").at("code")) ==
          (source->error ? "STATUS_CODE_ERROR" : "STATUS_CODE_OK"));
    CHECK(Str(span.at("status").at("message")) == source->status_message);
    CHECK(span.at("events").as_array().empty());
    CHECK(span.at("links").as_array().empty());
    CHECK(span.at("flags").to_number<int64_t>() == 0);
    CHECK(Str(span.at("traceState")).empty());

    // Attributes: the same keys in the same order, each with its type and value.
    const auto attributes = Attributes(span.at("attributes"));
    REQUIRE(attributes.size() == source->attributes.size());
    for (size_t i = 0; i < attributes.size(); ++i) {
      const auto& [key, value] = source->attributes[i];
      INFO("attribute " << key);
      CHECK(attributes[i].key == key);
      if (const auto* s = std::get_if<std::string>(&value)) {
        CheckString({attributes[i]}, key, *s);
      } else if (const auto* n = std::get_if<int64_t>(&value)) {
        CheckInt({attributes[i]}, key, *n);
      } else if (const auto* d = std::get_if<double>(&value)) {
        CheckDouble({attributes[i]}, key, *d);
      } else {
        CheckBool({attributes[i]}, key, std::get<bool>(value));
      }
    }
  }

  // A few spelled out, so the test does not only compare the encoder with itself.
  const auto root = Attributes(spans[0].at("attributes"));
  CheckString(root, "openinference.span.kind", "AGENT");
  CheckString(root, "input.value", "Qual é o preço do plano anual? 🙂");
  CHECK(Str(Find(root, "output.value").value).size() == 20'000);
  CheckInt(root, "ventros.int.min", std::numeric_limits<int64_t>::min());
  CHECK(Str(Find(root, "ventros.int.max").value) == "9223372036854775807");
  CheckDouble(root, "ventros.double.tenth", 0.1);
  CheckBool(root, "ventros.flag.false", false);
  CheckString(root, "ventros.empty", "");
  CHECK(Str(spans[0].at("parentSpanId")).empty());
  CHECK(Str(spans[0].at("startTimeUnixNano")) == "1700000000123456000");
  CHECK(Str(spans[0].at("endTimeUnixNano")) == "1700000000373456000");
  const auto& tool = spans[4];
  CHECK(Str(tool.at("name")) == "lookup_order");
  CHECK(Str(tool.at("parentSpanId")) == "3333333333333333");
  CHECK(Str(tool.at("status").at("code")) == "STATUS_CODE_ERROR");
  CHECK(Str(tool.at("status").at("message")) == "order 42 not found");
  CheckString(Attributes(spans[3].at("attributes")), "openinference.span.kind", "LLM");
  CheckInt(Attributes(spans[3].at("attributes")), "llm.token_count.prompt", 1234);
  CheckString(Attributes(spans[6].at("attributes")), "openinference.span.kind", "GUARDRAIL");
}

TEST_CASE("EncodeOtlpTraces: adds the span kind, keeps a key's last value, skips bad ids",
          "[otlp]") {
  SpanData bare;  // made without Tracer: no openinference.span.kind attribute
  bare.trace_id = "0AF7651916CD43DD8448EB211C80319C";  // upper case is read too
  bare.span_id = "00F067AA0BA902B7";
  bare.parent_span_id = "not-an-id";  // unreadable: the span becomes a root
  bare.tenant_id = "t";
  bare.name = "rerank";
  bare.kind = SpanKind::kReranker;
  bare.start_us = 1;
  bare.end_us = 2;
  bare.attributes.emplace_back("score", int64_t{1});
  bare.attributes.emplace_back("other", true);
  bare.attributes.emplace_back("score", 2.5);  // set again: the last value wins

  SpanData bad_trace = bare;
  bad_trace.trace_id = "xyz";
  bad_trace.name = "bad trace id";
  SpanData zero_span = bare;
  zero_span.span_id = "0000000000000000";
  zero_span.name = "zero span id";

  const std::vector<SpanData> input = {bad_trace, bare, zero_span};
  const auto spans = DecodedSpans(DecodeWithNode(EncodeOtlpTraces(input)));
  REQUIRE(Names(spans) == std::vector<std::string>{"rerank"});
  CHECK(Str(spans[0].at("traceId")) == "0af7651916cd43dd8448eb211c80319c");
  CHECK(Str(spans[0].at("spanId")) == "00f067aa0ba902b7");
  CHECK(Str(spans[0].at("parentSpanId")).empty());
  const auto attributes = Attributes(spans[0].at("attributes"));
  REQUIRE(attributes.size() == 3);
  CHECK(attributes[0].key == "openinference.span.kind");
  CheckString(attributes, "openinference.span.kind", "RERANKER");
  CHECK(attributes[1].key == "other");
  CHECK(attributes[2].key == "score");
  CheckDouble(attributes, "score", 2.5);

  // The default resource: service.name "ventros" alone besides the tenant.
  const auto request = DecodeWithNode(EncodeOtlpTraces(input));
  const auto resource =
      Attributes(request.at("resourceSpans").as_array()[0].at("resource").at("attributes"));
  REQUIRE(resource.size() == 2);
  CheckString(resource, "service.name", "ventros");
  CheckString(resource, "ventros.tenant_id", "t");
}

TEST_CASE("EncodeOtlpTraces: no spans is an empty request", "[otlp]") {
  const std::string bytes = EncodeOtlpTraces({});
  CHECK(bytes.empty());
  CHECK(DecodeWithNode(bytes).at("resourceSpans").as_array().empty());
}

// ---- the exporter against a fake collector ----------------------------------------------------

// An HttpClient that must never retry by itself (the exporter does). Its sleep hook runs on the
// exporter's thread, where Catch cannot report, so it counts and the destructor checks.
class TestClient {
 public:
  TestClient() : client_(Options(sleeps_)) {}
  ~TestClient() { CHECK(sleeps_->load() == 0); }
  HttpClient& get() { return client_; }

 private:
  static HttpClientOptions Options(const std::shared_ptr<std::atomic<int>>& sleeps) {
    HttpClientOptions options;
    options.connect_timeout = milliseconds(1000);
    options.request_timeout = milliseconds(5000);
    options.sleep = [sleeps](milliseconds) { ++*sleeps; };
    return options;
  }
  std::shared_ptr<std::atomic<int>> sleeps_ = std::make_shared<std::atomic<int>>(0);
  HttpClient client_;
};

uint16_t ClosedPort() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = acceptor.local_endpoint().port();
  acceptor.close();
  return port;
}

OtlpExporterOptions ExporterOptions(std::string endpoint) {
  OtlpExporterOptions options;
  options.endpoint = std::move(endpoint);
  options.headers = {{"api_key", "phoenix-key"}};
  options.flush_interval = milliseconds(60'000);  // only full batches, Flush() and Stop() send
  options.retry_backoff = milliseconds(1);
  options.max_backoff = milliseconds(2);
  return options;
}

SpanData Numbered(int i) {
  char span_id[17];
  std::snprintf(span_id, sizeof span_id, "%016x", i + 1);
  return MakeSpan(kTraceA, span_id, "", "tenant-a", "span " + std::to_string(i), SpanKind::kTool, i,
                  10);
}

double MetricValue(MetricsRegistry& metrics, const std::string& series) {
  std::istringstream text(metrics.RenderPrometheus());
  for (std::string line; std::getline(text, line);) {
    if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
  }
  FAIL("metric " << series << " not rendered");
  return 0;
}

TEST_CASE("OtlpExporter: posts protobuf batches to the collector's /v1/traces", "[otlp]") {
  FakeHttpServer collector(FakeHttpServer::Script({FakeReply{.status = 200}}));
  TestClient client;
  MetricsRegistry metrics;
  auto options = ExporterOptions(collector.Url("/v1/traces"));
  options.max_batch = 3;
  OtlpExporter exporter(options, client.get(), &metrics);
  REQUIRE(exporter.Start().ok());

  for (int i = 0; i < 7; ++i) exporter.Export(Numbered(i));
  REQUIRE(exporter.Flush(milliseconds(10'000)));

  const auto requests = collector.Requests();
  REQUIRE(requests.size() == 3);  // two full batches, then the rest on Flush()
  std::vector<std::string> names;
  std::vector<size_t> sizes;
  for (const FakeRequest& request : requests) {
    CHECK(request.method == "POST");
    CHECK(request.target == "/v1/traces");
    CHECK(request.Header("Content-Type") == "application/x-protobuf");
    CHECK(request.Header("api_key") == "phoenix-key");
    const auto spans = DecodedSpans(DecodeWithNode(request.body));
    sizes.push_back(spans.size());
    for (const auto& name : Names(spans)) names.push_back(name);
  }
  CHECK(sizes == std::vector<size_t>{3, 3, 1});
  CHECK(names == std::vector<std::string>{"span 0", "span 1", "span 2", "span 3", "span 4",
                                          "span 5", "span 6"});
  CHECK(exporter.exported() == 7);
  CHECK(exporter.dropped() == 0);
  CHECK(exporter.export_failures() == 0);
  CHECK(MetricValue(metrics, "ventros_otlp_spans_exported_total") == 7);
}

TEST_CASE("OtlpExporter: a partial batch goes out after flush_interval", "[otlp]") {
  FakeHttpServer collector(FakeHttpServer::Script({FakeReply{.status = 200}}));
  TestClient client;
  auto options = ExporterOptions(collector.Url("/v1/traces"));
  options.flush_interval = milliseconds(20);
  OtlpExporter exporter(options, client.get());
  REQUIRE(exporter.Start().ok());
  exporter.Export(Numbered(0));
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (exporter.exported() < 1 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  CHECK(exporter.exported() == 1);
  CHECK(collector.Requests().size() == 1);
}

TEST_CASE("OtlpExporter: a collector that is down gets retries, then the batch is dropped",
          "[otlp]") {
  TestClient client;
  MetricsRegistry metrics;
  auto options = ExporterOptions("http://127.0.0.1:" + std::to_string(ClosedPort()) + "/v1/traces");
  options.max_attempts = 3;
  OtlpExporter exporter(options, client.get(), &metrics);
  REQUIRE(exporter.Start().ok());
  exporter.Export(Numbered(0));
  exporter.Export(Numbered(1));
  REQUIRE(exporter.Flush(milliseconds(10'000)));

  const auto stats = exporter.Stats();
  CHECK(stats.retries == 2);
  CHECK(stats.export_failures == 1);
  CHECK(stats.dropped_failed == 2);
  CHECK(stats.exported == 0);
  CHECK(exporter.dropped() == 2);
  CHECK(exporter.export_failures() == 1);
  CHECK(MetricValue(metrics, "ventros_otlp_export_failures_total") == 1);
  CHECK(MetricValue(metrics, "ventros_otlp_spans_dropped_total{reason=\"export_failed\"}") == 2);
  CHECK(MetricValue(metrics, "ventros_otlp_export_retries_total") == 2);
}

TEST_CASE("OtlpExporter: retries 503 until the collector accepts, never retries a 400", "[otlp]") {
  TestClient client;
  SECTION("503, 503, then 200: exported after two retries") {
    FakeHttpServer collector(FakeHttpServer::Script(
        {FakeReply{.status = 503}, FakeReply{.status = 503}, FakeReply{.status = 200}}));
    OtlpExporter exporter(ExporterOptions(collector.Url("/v1/traces")), client.get());
    REQUIRE(exporter.Start().ok());
    exporter.Export(Numbered(0));
    REQUIRE(exporter.Flush(milliseconds(10'000)));
    CHECK(collector.Requests().size() == 3);
    CHECK(exporter.exported() == 1);
    CHECK(exporter.Stats().retries == 2);
    CHECK(exporter.dropped() == 0);
  }
  SECTION("503 every time: given up after max_attempts") {
    FakeHttpServer collector(FakeHttpServer::Script({FakeReply{.status = 503}}));
    auto options = ExporterOptions(collector.Url("/v1/traces"));
    options.max_attempts = 4;
    OtlpExporter exporter(options, client.get());
    REQUIRE(exporter.Start().ok());
    exporter.Export(Numbered(0));
    REQUIRE(exporter.Flush(milliseconds(10'000)));
    CHECK(collector.Requests().size() == 4);
    CHECK(exporter.export_failures() == 1);
    CHECK(exporter.dropped() == 1);
  }
  SECTION("400: dropped at once, the same bytes would fail again") {
    FakeHttpServer collector(FakeHttpServer::Script({FakeReply{.status = 400}}));
    OtlpExporter exporter(ExporterOptions(collector.Url("/v1/traces")), client.get());
    REQUIRE(exporter.Start().ok());
    exporter.Export(Numbered(0));
    REQUIRE(exporter.Flush(milliseconds(10'000)));
    CHECK(collector.Requests().size() == 1);
    CHECK(exporter.export_failures() == 1);
    CHECK(exporter.Stats().retries == 0);
  }
}

TEST_CASE("OtlpExporter: a full queue drops new spans and counts them", "[otlp]") {
  FakeHttpServer collector(FakeHttpServer::Script({FakeReply{.status = 200}}));
  TestClient client;
  MetricsRegistry metrics;
  auto options = ExporterOptions(collector.Url("/v1/traces"));
  options.queue_capacity = 5;
  OtlpExporter exporter(options, client.get(), &metrics);

  // Not started yet: spans wait in the queue, up to its capacity.
  for (int i = 0; i < 8; ++i) exporter.Export(Numbered(i));
  CHECK(exporter.dropped() == 3);
  CHECK(exporter.Stats().dropped_queue_full == 3);
  CHECK(exporter.Stats().queued == 5);
  CHECK(MetricValue(metrics, "ventros_otlp_spans_dropped_total{reason=\"queue_full\"}") == 3);

  REQUIRE(exporter.Start().ok());
  REQUIRE(exporter.Flush(milliseconds(10'000)));
  CHECK(exporter.exported() == 5);
  REQUIRE(collector.Requests().size() == 1);
  CHECK(Names(DecodedSpans(DecodeWithNode(collector.Requests()[0].body))) ==
        std::vector<std::string>{"span 0", "span 1", "span 2", "span 3", "span 4"});
}

TEST_CASE("OtlpExporter: Stop sends what is queued, later spans are dropped", "[otlp]") {
  FakeHttpServer collector(FakeHttpServer::Script({FakeReply{.status = 200}}));
  TestClient client;
  OtlpExporter exporter(ExporterOptions(collector.Url("/v1/traces")), client.get());
  REQUIRE(exporter.Start().ok());
  for (int i = 0; i < 5; ++i) exporter.Export(Numbered(i));
  exporter.Stop();

  REQUIRE(collector.Requests().size() == 1);
  CHECK(DecodedSpans(DecodeWithNode(collector.Requests()[0].body)).size() == 5);
  CHECK(exporter.exported() == 5);

  exporter.Export(Numbered(5));
  CHECK(exporter.Stats().dropped_shutdown == 1);
  CHECK_FALSE(exporter.Flush(milliseconds(10)));
  exporter.Stop();  // again: nothing happens
  CHECK(exporter.Start().code() == StatusCode::kConflict);
}

TEST_CASE("OtlpExporter: Stop gives up at its deadline when the collector hangs", "[otlp]") {
  FakeHttpServer collector(FakeHttpServer::Script({FakeReply::Hang()}));
  TestClient client;
  auto options = ExporterOptions(collector.Url("/v1/traces"));
  options.timeout = milliseconds(30'000);
  options.shutdown_timeout = milliseconds(200);
  OtlpExporter exporter(options, client.get());
  REQUIRE(exporter.Start().ok());
  for (int i = 0; i < 3; ++i) exporter.Export(Numbered(i));

  const auto started = std::chrono::steady_clock::now();
  exporter.Stop();
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(took < std::chrono::seconds(5));
  CHECK(exporter.exported() == 0);
  CHECK(exporter.Stats().dropped_shutdown == 3);
  CHECK(exporter.dropped() == 3);
}

TEST_CASE("OtlpExporter: Start refuses an endpoint that is not an http URL", "[otlp]") {
  TestClient client;
  OtlpExporter exporter(ExporterOptions("127.0.0.1:6006/v1/traces"), client.get());
  const auto status = exporter.Start();
  CHECK(status.code() == StatusCode::kInvalidArgument);
  CHECK_FALSE(exporter.Flush(milliseconds(10)));

  auto options = ExporterOptions("http://127.0.0.1:6006/v1/traces");
  options.max_batch = 0;
  OtlpExporter zero_batch(options, client.get());
  CHECK(zero_batch.Start().code() == StatusCode::kInvalidArgument);
}

// ---- fan-out --------------------------------------------------------------------------------

class RecordingSink : public SpanSink {
 public:
  void Export(SpanData span) override { spans.push_back(std::move(span)); }
  std::vector<SpanData> spans;
};

TEST_CASE("FanoutSink: every sink gets its own copy of each span", "[otlp]") {
  RecordingSink first;
  RecordingSink second;
  FanoutSink fanout({&first, nullptr, &second});
  fanout.Export(Numbered(0));
  fanout.Export(Numbered(1));
  REQUIRE(first.spans.size() == 2);
  REQUIRE(second.spans.size() == 2);
  CHECK(first.spans[1].name == "span 1");
  CHECK(second.spans[1].name == "span 1");
  CHECK(first.spans[0].attributes == second.spans[0].attributes);
  CHECK(first.spans[0].span_id == second.spans[0].span_id);

  FanoutSink none({});
  none.Export(Numbered(2));  // nothing to do, nothing breaks
}

TEST_CASE("FanoutSink: a Tracer's spans reach both the collector and another sink", "[otlp]") {
  FakeHttpServer collector(FakeHttpServer::Script({FakeReply{.status = 200}}));
  TestClient client;
  OtlpExporter exporter(ExporterOptions(collector.Url("/v1/traces")), client.get());
  REQUIRE(exporter.Start().ok());
  RecordingSink store;
  FanoutSink fanout({&store, &exporter});
  VirtualClock clock;
  const Tracer tracer(clock, &fanout);
  {
    auto turn = tracer.StartTrace("coordinator", SpanKind::kAgent, "tenant-a");
    turn.Set("session.id", "sess-9");
    clock.AdvanceMillis(5);
    auto llm = tracer.StartChild(turn, "chat", SpanKind::kLlm);
    llm.Set("llm.token_count.total", 42);
    clock.AdvanceMillis(20);
  }  // both end here, the child first
  REQUIRE(exporter.Flush(milliseconds(10'000)));

  REQUIRE(store.spans.size() == 2);
  REQUIRE(collector.Requests().size() == 1);
  const auto spans = DecodedSpans(DecodeWithNode(collector.Requests()[0].body));
  REQUIRE(Names(spans) == std::vector<std::string>{"chat", "coordinator"});
  CHECK(Str(spans[0].at("parentSpanId")) == store.spans[1].span_id);
  CHECK(Str(spans[0].at("traceId")) == store.spans[1].trace_id);
  CHECK(Str(spans[1].at("startTimeUnixNano")) == std::to_string(clock.NowMillis() - 25) + "000000");
  CHECK(Str(spans[1].at("endTimeUnixNano")) == std::to_string(clock.NowMillis()) + "000000");
  CheckString(Attributes(spans[1].at("attributes")), "openinference.span.kind", "AGENT");
  CheckInt(Attributes(spans[0].at("attributes")), "llm.token_count.total", 42);
}

}  // namespace

#include "ventros/core/config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <fstream>
#include <functional>
#include <sstream>
#include <type_traits>

extern char** environ;

namespace ventros::core {
namespace {

namespace json = boost::json;

using Setter = std::function<void(Config&, const json::value&)>;
using Getter = std::function<json::value(const Config&)>;

// Largest value an integer key takes: counts (threads, pool size, retries) are int fields and
// stay far below 1,000,000; durations (*_ms) and sizes (*_bytes) are int64 but kept within 2^53
// so that every value survives a round trip through JSON numbers (doubles).
constexpr int64_t kMaxCount = 1'000'000;
constexpr int64_t kMaxInt64Value = int64_t{1} << 53;

template <typename Field>
constexpr int64_t MaxValueOf() {
  static_assert(std::is_same_v<Field, int> || std::is_same_v<Field, int64_t>);
  return std::is_same_v<Field, int> ? kMaxCount : kMaxInt64Value;
}

struct KeyDef {
  ConfigKeyInfo info;
  Setter set;
  Getter get;
  int64_t max_value = 0;  // integer keys: the largest value accepted (the smallest is 0)
};

std::string EnvName(std::string_view key) {
  std::string out = "VENTROS_";
  for (char c : key) out.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(c)));
  return out;
}

#define VENTROS_STR(path, doc)                                                        \
  KeyDef {                                                                            \
    {#path, ConfigType::kString, EnvName(#path), "", doc},                            \
        [](Config& c, const json::value& v) { c.path = std::string(v.as_string()); }, \
        [](const Config& c) { return json::value(c.path); }, 0                        \
  }
#define VENTROS_INT(path, doc)                                                     \
  KeyDef {                                                                         \
    {#path, ConfigType::kInt, EnvName(#path), "", doc},                            \
        [](Config& c, const json::value& v) {                                      \
          c.path = static_cast<decltype(c.path)>(v.to_number<int64_t>());          \
        },                                                                         \
        [](const Config& c) { return json::value(static_cast<int64_t>(c.path)); }, \
        MaxValueOf<decltype(Config{}.path)>()                                      \
  }
#define VENTROS_BOOL(path, doc)                                        \
  KeyDef {                                                             \
    {#path, ConfigType::kBool, EnvName(#path), "", doc},               \
        [](Config& c, const json::value& v) { c.path = v.as_bool(); }, \
        [](const Config& c) { return json::value(c.path); }, 0         \
  }

const std::vector<KeyDef>& Defs() {
  static const std::vector<KeyDef> defs = [] {
    std::vector<KeyDef> d = {
        VENTROS_STR(server.listen,
                    "Address the HTTP server binds, host:port (port 0 picks a free port)."),
        VENTROS_INT(server.io_threads, "Threads that run HTTP I/O (accept, read, write)."),
        VENTROS_INT(server.worker_threads,
                    "Threads that run handlers doing blocking work (database, outside calls)."),
        VENTROS_INT(server.body_limit_bytes,
                    "Largest request body accepted; larger bodies get 413."),
        VENTROS_INT(server.read_timeout_ms,
                    "Time allowed to read one request, and the keep-alive idle limit."),
        VENTROS_INT(server.shutdown_grace_ms,
                    "On SIGTERM/SIGINT, how long in-flight requests may take to finish."),
        VENTROS_STR(server.public_url,
                    "How WAHA and browsers reach this server, e.g. https://crm.example.com (shown "
                    "in webhook URLs; empty: http://<server.listen>)."),
        VENTROS_STR(database.url,
                    "sqlite:///abs/path.db, sqlite://relative/path.db, sqlite::memory: or "
                    "postgres://user:password@host:port/db."),
        VENTROS_INT(database.pool_size,
                    "Connections in the pool (SQLite in-memory always uses one)."),
        VENTROS_INT(database.acquire_timeout_ms,
                    "How long a request waits for a free connection before 503."),
        VENTROS_INT(database.connect_timeout_ms, "Time allowed to open one PostgreSQL connection."),
        VENTROS_BOOL(database.auto_migrate, "Apply pending migrations when `serve` starts."),
        VENTROS_STR(database.sqlite_synchronous,
                    "SQLite only: normal (a commit survives a crash of the process) or full (it "
                    "also survives a power loss; slower)."),
        VENTROS_STR(log.level, "trace, debug, info, warn, error or off."),
        VENTROS_STR(log.format, "text (human-readable) or json (one JSON object per line)."),
        VENTROS_BOOL(log.requests,
                     "Log every HTTP request with its request id, status and duration."),
        VENTROS_STR(log.file, "Write logs to this file instead of stderr (empty: stderr)."),
        VENTROS_INT(http_client.connect_timeout_ms, "Outgoing HTTP: time allowed to connect."),
        VENTROS_INT(http_client.request_timeout_ms, "Outgoing HTTP: time allowed for one attempt."),
        VENTROS_INT(
            http_client.max_retries,
            "Outgoing HTTP: retries after the first attempt on transport errors, 429 and 5xx."),
        VENTROS_INT(crm.session_timeout_ms,
                    "A conversation (session) ends after this much silence, unless its channel "
                    "sets its own."),
        VENTROS_INT(crm.session_sweep_interval_ms,
                    "How often silent sessions are looked for and ended."),
        VENTROS_STR(waha.media_dir,
                    "Where downloaded media is stored, content-addressed by SHA-256."),
        VENTROS_INT(waha.media_max_bytes,
                    "Largest media file downloaded; larger ones are recorded as failed."),
        VENTROS_STR(waha.media_base_url,
                    "Replaces scheme://host:port of WAHA media URLs (WAHA often reports "
                    "http://localhost:3000); empty: use the channel's WAHA URL when the URL points "
                    "at localhost."),
        VENTROS_INT(waha.send_max_attempts,
                    "Sends that fail with 422/5xx are retried with backoff up to this many "
                    "attempts, then failed."),
        VENTROS_BOOL(waha.humanize,
                     "Before sending: mark seen, show typing, wait typing_delay_ms, stop typing."),
        VENTROS_INT(waha.typing_delay_ms, "How long 'typing...' shows before a humanized send."),
        VENTROS_BOOL(waha.apply_inline,
                     "Apply each webhook in the transaction that stores it (false: store it for "
                     "the waha.ingest consumer). Off on an edge instance (run_consumers false)."),
        VENTROS_BOOL(
            events.run_consumers,
            "Run the event consumers (applying webhooks, sending, media, session sweeps) in this "
            "instance; false makes an edge instance that only stores webhooks and serves the API."),
        VENTROS_INT(events.position_save_interval_ms,
                    "How often a consumer writes its position when nothing else does (0: after "
                    "every pass); a crash replays at most this much (handlers are idempotent)."),
        VENTROS_INT(events.consumer_nice,
                    "Nice value of the consumer threads (0-19): higher lets HTTP requests, such as "
                    "webhook acknowledgements, take the CPU first while consumers catch up."),
        VENTROS_INT(events.poll_interval_ms,
                    "Event consumers look for new events at least this often (other instances' "
                    "writes); in-process writes wake them at once."),
        VENTROS_STR(llm.provider,
                    "Language model for summaries, fact extraction and agents: offline (built-in "
                    "rules, no network), gemini or openai (any OpenAI-compatible chat server)."),
        VENTROS_STR(
            llm.base_url,
            "Base URL of the language model, e.g. https://generativelanguage.googleapis.com "
            "or http://127.0.0.1:11434 (Ollama)."),
        VENTROS_STR(llm.model, "Model name, e.g. gemini-2.0-flash or llama3.1."),
        VENTROS_STR(llm.api_key,
                    "API key of the language model (secret: set VENTROS_LLM_API_KEY)."),
        VENTROS_INT(llm.timeout_ms, "Time allowed for one language model call."),
        KeyDef{{"llm.prices", ConfigType::kStringList, "VENTROS_LLM_PRICES", "",
                "Prices of language models in USD per million tokens, "
                "model=input/output/cached_input, for the cost of agent turns (a model not "
                "listed costs 0)."},
               [](Config& c, const json::value& v) {
                 c.llm.prices.clear();
                 for (const auto& m : v.as_array()) c.llm.prices.emplace_back(m.as_string());
               },
               [](const Config& c) {
                 json::array a;
                 for (const auto& m : c.llm.prices) a.emplace_back(m);
                 return json::value(std::move(a));
               },
               0},
        VENTROS_INT(observability.sample_percent,
                    "Share of traces (agent turns) the span store keeps, 0-100; token and cost "
                    "usage counts every one."),
        VENTROS_INT(observability.retention_days, "Days spans are kept before they are deleted."),
        VENTROS_STR(observability.database_url,
                    "Where spans are stored. Empty: with SQLite a file of its own next to the main "
                    "database (<name>-traces.db, its own writer); with PostgreSQL the main "
                    "database. \"main\": the main database; or a database URL."),
        VENTROS_STR(observability.otlp_endpoint,
                    "OTLP/HTTP endpoint spans are exported to as protobuf, e.g. "
                    "http://127.0.0.1:6006/v1/traces (Arize Phoenix); empty: no export."),
        KeyDef{{"observability.otlp_headers", ConfigType::kStringList,
                "VENTROS_OBSERVABILITY_OTLP_HEADERS", "",
                "Headers sent with each OTLP export, \"Name: value\" (secrets: set them through "
                "the environment)."},
               [](Config& c, const json::value& v) {
                 c.observability.otlp_headers.clear();
                 for (const auto& h : v.as_array()) {
                   c.observability.otlp_headers.emplace_back(h.as_string());
                 }
               },
               [](const Config& c) {
                 json::array a;
                 for (const auto& h : c.observability.otlp_headers) a.emplace_back(h);
                 return json::value(std::move(a));
               },
               0},
        VENTROS_STR(observability.otlp_project,
                    "The project spans are exported under (openinference.project.name)."),
        VENTROS_INT(workflows.workers,
                    "Threads that advance durable workflows in this instance (where event "
                    "consumers run); several instances may run them over PostgreSQL."),
        VENTROS_INT(agents.max_backlog_age_ms,
                    "Customer messages older than this are not answered by agents (a backlog "
                    "after downtime is answered up to this age)."),
        VENTROS_INT(agents.turn_timeout_ms,
                    "Time allowed for the model calls and tools of one agent turn."),
        VENTROS_INT(agents.followup_interval_ms,
                    "How often due follow-ups scheduled by agents are sent."),
        VENTROS_STR(memory.embedder,
                    "Embedding model: local (built in, no network), gemini, vertex or openai (any "
                    "OpenAI-compatible /v1/embeddings server)."),
        VENTROS_STR(
            memory.embedder_url,
            "Base URL of the hosted embedder, e.g. https://generativelanguage.googleapis.com"
            " or http://127.0.0.1:11434 (Ollama)."),
        VENTROS_STR(memory.embedder_model,
                    "Model of the hosted embedder, e.g. text-embedding-004 or nomic-embed-text."),
        VENTROS_STR(
            memory.embedder_api_key,
            "API key of the hosted embedder (secret: set VENTROS_MEMORY_EMBEDDER_API_KEY)."),
        VENTROS_INT(memory.embedder_dimensions, "Size of the embedding vectors (8 to 4096)."),
        VENTROS_INT(memory.embedder_batch_size, "Texts per request to a hosted embedder."),
        VENTROS_STR(memory.rerank_url,
                    "Base URL of a Jina-compatible rerank API (POST /v1/rerank); empty: the local "
                    "scorer."),
        VENTROS_STR(memory.rerank_model, "Model of the rerank API."),
        VENTROS_STR(memory.rerank_api_key,
                    "API key of the rerank API (secret: set VENTROS_MEMORY_RERANK_API_KEY)."),
        VENTROS_INT(memory.embedding_cache_entries,
                    "Embeddings kept in memory (LRU, by tenant and text)."),
        VENTROS_INT(memory.search_cache_entries,
                    "Search results kept in memory (LRU); new data about a contact invalidates "
                    "its entries."),
        VENTROS_INT(memory.search_cache_ttl_ms, "Longest time a cached search result is reused."),
        VENTROS_INT(memory.ef_search,
                    "HNSW search breadth: higher finds more true neighbours, slower (16 to 1000)."),
        VENTROS_INT(memory.vector_refresh_interval_ms,
                    "How often this instance loads vectors that other instances indexed."),
        VENTROS_BOOL(bootstrap.create_default_tenant,
                     "On first start (no tenants), create one and print its admin API key once."),
        VENTROS_STR(bootstrap.default_tenant_name, "Name of the tenant created on first start."),
    };
    d.push_back(KeyDef{
        {"modules", ConfigType::kStringList, "VENTROS_MODULES", "",
         "Modules this instance hosts (comma-separated in the environment and --modules). "
         "Known: crm (with the WAHA channel; also accepted as waha), memory, agents, workflows, "
         "observability."},
        [](Config& c, const json::value& v) {
          c.modules.clear();
          for (const auto& m : v.as_array()) c.modules.emplace_back(m.as_string());
        },
        [](const Config& c) {
          json::array a;
          for (const auto& m : c.modules) a.emplace_back(m);
          return json::value(std::move(a));
        },
        0});
    Config defaults;
    for (auto& k : d) k.info.default_value = json::serialize(k.get(defaults));
    return d;
  }();
  return defs;
}

const KeyDef* Find(std::string_view key) {
  for (const auto& d : Defs()) {
    if (d.info.key == key) return &d;
  }
  return nullptr;
}

std::string_view TypeName(ConfigType t) {
  switch (t) {
    case ConfigType::kString:
      return "a string";
    case ConfigType::kInt:
      return "an integer";
    case ConfigType::kBool:
      return "a boolean";
    case ConfigType::kStringList:
      return "a list of strings";
  }
  return "?";
}

std::string_view KindOf(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "an integer";
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "a list";
    case json::kind::object:
      return "an object";
  }
  return "?";
}

bool TypeMatches(ConfigType t, const json::value& v) {
  switch (t) {
    case ConfigType::kString:
      return v.is_string();
    case ConfigType::kInt:
      return v.is_int64() || v.is_uint64();  // range: see Apply
    case ConfigType::kBool:
      return v.is_bool();
    case ConfigType::kStringList:
      return v.is_array() && std::all_of(v.as_array().begin(), v.as_array().end(),
                                         [](const json::value& e) { return e.is_string(); });
  }
  return false;
}

Status Apply(Config& config, const KeyDef& def, const json::value& v, std::string_view source) {
  if (!TypeMatches(def.info.type, v)) {
    return Status::InvalidArgument(fmt::format("configuration key '{}' ({}) must be {}, got {}",
                                               def.info.key, source, TypeName(def.info.type),
                                               KindOf(v)));
  }
  if (def.info.type == ConfigType::kInt) {
    // Checked before the value is narrowed to its field: 4294967297 must not become 1.
    const bool in_range = v.is_uint64() ? v.as_uint64() <= static_cast<uint64_t>(def.max_value)
                                        : v.as_int64() >= 0 && v.as_int64() <= def.max_value;
    if (!in_range) {
      return Status::InvalidArgument(
          fmt::format("configuration key '{}' ({}) must be between 0 and {}, got {}", def.info.key,
                      source, def.max_value, json::serialize(v)));
    }
  }
  def.set(config, v);
  return Status::Ok();
}

Status Walk(Config& config, const json::object& obj, const std::string& prefix,
            std::string_view source) {
  for (const auto& [k, v] : obj) {
    std::string key = prefix.empty() ? std::string(k) : prefix + "." + std::string(k);
    const KeyDef* def = Find(key);
    if (def) {
      VENTROS_RETURN_IF_ERROR(Apply(config, *def, v, source));
      continue;
    }
    // A section: some key starts with "key."
    bool is_section = std::any_of(Defs().begin(), Defs().end(), [&](const KeyDef& d) {
      return d.info.key.starts_with(key + ".");
    });
    if (is_section && v.is_object()) {
      VENTROS_RETURN_IF_ERROR(Walk(config, v.as_object(), key, source));
      continue;
    }
    if (is_section) {
      return Status::InvalidArgument(fmt::format(
          "configuration key '{}' ({}) must be an object, got {}", key, source, KindOf(v)));
    }
    return Status::InvalidArgument(
        fmt::format("unknown configuration key '{}' ({}); see docs/configuration.md", key, source));
  }
  return Status::Ok();
}

// Parses a string (environment variable or CLI flag) by the key's type.
Result<json::value> ParseTyped(const KeyDef& def, std::string_view text, std::string_view source) {
  auto bad = [&] {
    return Status::InvalidArgument(fmt::format("configuration key '{}' ({}) must be {}, got '{}'",
                                               def.info.key, source, TypeName(def.info.type),
                                               text));
  };
  switch (def.info.type) {
    case ConfigType::kString:
      return json::value(json::string(text));
    case ConfigType::kInt: {
      int64_t out = 0;
      const char* end = text.data() + text.size();
      auto [ptr, ec] = std::from_chars(text.data(), end, out);
      if (ec == std::errc::result_out_of_range && ptr == end) {
        return Status::InvalidArgument(
            fmt::format("configuration key '{}' ({}) must be between 0 and {}, got '{}'",
                        def.info.key, source, def.max_value, text));
      }
      if (text.empty() || ec != std::errc() || ptr != end) return bad();
      return json::value(out);
    }
    case ConfigType::kBool:
      if (text == "true" || text == "1" || text == "yes" || text == "on") return json::value(true);
      if (text == "false" || text == "0" || text == "no" || text == "off") {
        return json::value(false);
      }
      return bad();
    case ConfigType::kStringList: {
      json::array a;
      std::string item;
      std::stringstream ss{std::string(text)};
      while (std::getline(ss, item, ',')) {
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (!item.empty()) a.emplace_back(item);
      }
      return json::value(std::move(a));
    }
  }
  return bad();
}

// Variables of the VENTROS_ namespace that are not configuration keys.
bool IsReservedEnv(std::string_view name) {
  return name == "VENTROS_CONFIG" || name == "VENTROS_SOURCE_DIR" ||
         name.starts_with("VENTROS_TEST_") || name.starts_with("VENTROS_BENCH_") ||
         name.starts_with("VENTROS_BUILD_") || name.starts_with("VENTROS_PG_");
}

}  // namespace

const std::vector<ConfigKeyInfo>& ConfigSchema() {
  static const std::vector<ConfigKeyInfo> schema = [] {
    std::vector<ConfigKeyInfo> out;
    for (const auto& d : Defs()) out.push_back(d.info);
    return out;
  }();
  return schema;
}

Result<Config> ConfigLoader::Load(const std::string& path,
                                  const std::vector<std::string>& environment) {
  Config config;
  if (!path.empty()) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::InvalidArgument(fmt::format("cannot read config file {}", path));
    std::stringstream buf;
    buf << in.rdbuf();
    json::parse_options opts;
    opts.allow_comments = true;
    opts.allow_trailing_commas = true;
    boost::system::error_code ec;
    json::value doc = json::parse(buf.str(), ec, {}, opts);
    if (ec) {
      return Status::InvalidArgument(
          fmt::format("config file {} is not valid JSON: {}", path, ec.message()));
    }
    if (!doc.is_object()) {
      return Status::InvalidArgument(fmt::format("config file {} must hold a JSON object", path));
    }
    VENTROS_RETURN_IF_ERROR(Walk(config, doc.as_object(), "", path));
  }
  for (const auto& entry : environment) {
    size_t eq = entry.find('=');
    if (eq == std::string::npos) continue;
    std::string_view name(entry.data(), eq);
    if (!name.starts_with("VENTROS_") || IsReservedEnv(name)) continue;
    const KeyDef* def = nullptr;
    for (const auto& d : Defs()) {
      if (d.info.env == name) def = &d;
    }
    if (!def) {
      return Status::InvalidArgument(fmt::format(
          "unknown configuration variable {} in the environment; see docs/configuration.md", name));
    }
    std::string source = fmt::format("environment {}", name);
    VENTROS_ASSIGN_OR_RETURN(json::value v,
                             ParseTyped(*def, std::string_view(entry).substr(eq + 1), source));
    VENTROS_RETURN_IF_ERROR(Apply(config, *def, v, source));
  }
  VENTROS_RETURN_IF_ERROR(Validate(config));
  return config;
}

Status ConfigLoader::Set(Config& config, std::string_view key, std::string_view value) {
  const KeyDef* def = Find(key);
  if (!def) return Status::InvalidArgument(fmt::format("unknown configuration key '{}'", key));
  VENTROS_ASSIGN_OR_RETURN(json::value v, ParseTyped(*def, value, "command line"));
  return Apply(config, *def, v, "command line");
}

Status ConfigLoader::Validate(const Config& c) {
  static const std::vector<std::string> kLevels = {"trace", "debug", "info",
                                                   "warn",  "error", "off"};
  if (std::find(kLevels.begin(), kLevels.end(), c.log.level) == kLevels.end()) {
    return Status::InvalidArgument(fmt::format(
        "configuration key 'log.level' must be one of trace, debug, info, warn, error, off; got "
        "'{}'",
        c.log.level));
  }
  if (c.database.sqlite_synchronous != "normal" && c.database.sqlite_synchronous != "full") {
    return Status::InvalidArgument(fmt::format(
        "configuration key 'database.sqlite_synchronous' must be normal or full; got '{}'",
        c.database.sqlite_synchronous));
  }
  if (c.log.format != "text" && c.log.format != "json") {
    return Status::InvalidArgument(
        fmt::format("configuration key 'log.format' must be text or json; got '{}'", c.log.format));
  }
  auto listen = ParseListenAddress(c.server.listen);
  if (!listen.ok()) return listen.status().WithContext("configuration key 'server.listen'");
  auto positive = [](std::string_view key, int64_t v) -> Status {
    if (v <= 0) {
      return Status::InvalidArgument(
          fmt::format("configuration key '{}' must be greater than 0; got {}", key, v));
    }
    return Status::Ok();
  };
  VENTROS_RETURN_IF_ERROR(positive("server.io_threads", c.server.io_threads));
  VENTROS_RETURN_IF_ERROR(positive("server.worker_threads", c.server.worker_threads));
  VENTROS_RETURN_IF_ERROR(positive("server.body_limit_bytes", c.server.body_limit_bytes));
  VENTROS_RETURN_IF_ERROR(positive("server.read_timeout_ms", c.server.read_timeout_ms));
  VENTROS_RETURN_IF_ERROR(positive("database.pool_size", c.database.pool_size));
  VENTROS_RETURN_IF_ERROR(positive("database.acquire_timeout_ms", c.database.acquire_timeout_ms));
  VENTROS_RETURN_IF_ERROR(positive("database.connect_timeout_ms", c.database.connect_timeout_ms));
  if (c.crm.session_timeout_ms < 60000) {
    return Status::InvalidArgument(
        fmt::format("configuration key 'crm.session_timeout_ms' must be at least 60000; got {}",
                    c.crm.session_timeout_ms));
  }
  VENTROS_RETURN_IF_ERROR(
      positive("crm.session_sweep_interval_ms", c.crm.session_sweep_interval_ms));
  VENTROS_RETURN_IF_ERROR(positive("waha.media_max_bytes", c.waha.media_max_bytes));
  VENTROS_RETURN_IF_ERROR(positive("waha.send_max_attempts", c.waha.send_max_attempts));
  VENTROS_RETURN_IF_ERROR(positive("events.poll_interval_ms", c.events.poll_interval_ms));
  if (c.events.consumer_nice < 0 || c.events.consumer_nice > 19) {
    return Status::InvalidArgument(
        fmt::format("configuration key 'events.consumer_nice' must be between 0 and 19; got {}",
                    c.events.consumer_nice));
  }
  if (c.waha.media_dir.empty()) {
    return Status::InvalidArgument("configuration key 'waha.media_dir' must not be empty");
  }
  if (!c.server.public_url.empty() && !c.server.public_url.starts_with("http://") &&
      !c.server.public_url.starts_with("https://")) {
    return Status::InvalidArgument(fmt::format(
        "configuration key 'server.public_url' must start with http:// or https://; got '{}'",
        c.server.public_url));
  }
  if (c.server.shutdown_grace_ms < 0) {
    return Status::InvalidArgument(
        fmt::format("configuration key 'server.shutdown_grace_ms' must be >= 0; got {}",
                    c.server.shutdown_grace_ms));
  }
  if (c.http_client.max_retries < 0) {
    return Status::InvalidArgument("configuration key 'http_client.max_retries' must be >= 0");
  }
  // A Config built in code never went through Apply: check the upper bounds here too.
  for (const auto& d : Defs()) {
    if (d.info.type != ConfigType::kInt) continue;
    const int64_t v = d.get(c).as_int64();
    if (v > d.max_value) {
      return Status::InvalidArgument(fmt::format(
          "configuration key '{}' must be at most {}; got {}", d.info.key, d.max_value, v));
    }
  }
  static const std::vector<std::string> kModules = {"crm",    "waha",      "memory",
                                                    "agents", "workflows", "observability"};
  for (const auto& m : c.modules) {
    if (std::find(kModules.begin(), kModules.end(), m) == kModules.end()) {
      return Status::InvalidArgument(fmt::format(
          "configuration key 'modules': unknown module '{}' (known: crm, waha, memory, agents, "
          "workflows, observability)",
          m));
    }
  }
  if (c.observability.sample_percent > 100 || c.observability.retention_days < 1) {
    return Status::InvalidArgument(
        "configuration key 'observability.sample_percent' must be 0..100 and "
        "'observability.retention_days' at least 1");
  }
  for (const auto& h : c.observability.otlp_headers) {
    if (h.find(':') == std::string::npos || h.find(':') == 0) {
      return Status::InvalidArgument(
          fmt::format("configuration key 'observability.otlp_headers': '{}' must read "
                      "\"Name: value\"",
                      h.substr(0, h.find(':'))));
    }
  }
  if (c.workflows.workers < 1 || c.workflows.workers > 64) {
    return Status::InvalidArgument("configuration key 'workflows.workers' must be 1..64");
  }
  if (c.agents.followup_interval_ms < 100 || c.agents.turn_timeout_ms < 1000 ||
      c.agents.max_backlog_age_ms < 60000) {
    return Status::InvalidArgument(
        "configuration keys 'agents.followup_interval_ms' (>= 100), 'agents.turn_timeout_ms' (>= "
        "1000) and 'agents.max_backlog_age_ms' (>= 60000) are below their minimum");
  }
  for (const auto& price : c.llm.prices) {
    size_t eq = price.rfind('=');
    size_t slashes = std::count(price.begin(), price.end(), '/');
    if (eq == std::string::npos || eq == 0 || slashes < 1 ||
        price.find_first_not_of("0123456789./", eq + 1) != std::string::npos) {
      return Status::InvalidArgument(fmt::format(
          "configuration key 'llm.prices': '{}' must read model=input/output/cached_input (USD "
          "per million tokens)",
          price));
    }
  }
  if (c.llm.provider != "offline" && c.llm.provider != "gemini" && c.llm.provider != "openai") {
    return Status::InvalidArgument(
        fmt::format("configuration key 'llm.provider' must be offline, gemini or openai; got '{}'",
                    c.llm.provider));
  }
  if (c.llm.provider != "offline" && (c.llm.base_url.empty() || c.llm.model.empty())) {
    return Status::InvalidArgument(
        fmt::format("llm.provider '{}' needs llm.base_url and llm.model", c.llm.provider));
  }
  VENTROS_RETURN_IF_ERROR(positive("llm.timeout_ms", c.llm.timeout_ms));
  static const std::vector<std::string> kEmbedders = {"local", "gemini", "vertex", "openai"};
  if (std::find(kEmbedders.begin(), kEmbedders.end(), c.memory.embedder) == kEmbedders.end()) {
    return Status::InvalidArgument(fmt::format(
        "configuration key 'memory.embedder' must be local, gemini, vertex or openai; got '{}'",
        c.memory.embedder));
  }
  if (c.memory.embedder != "local" &&
      (c.memory.embedder_url.empty() || c.memory.embedder_model.empty())) {
    return Status::InvalidArgument(
        fmt::format("memory.embedder '{}' needs memory.embedder_url and memory.embedder_model",
                    c.memory.embedder));
  }
  if (c.memory.embedder_dimensions < 8 || c.memory.embedder_dimensions > 4096) {
    return Status::InvalidArgument(
        fmt::format("configuration key 'memory.embedder_dimensions' must be 8 to 4096; got {}",
                    c.memory.embedder_dimensions));
  }
  if (c.memory.ef_search < 16 || c.memory.ef_search > 1000) {
    return Status::InvalidArgument(fmt::format(
        "configuration key 'memory.ef_search' must be 16 to 1000; got {}", c.memory.ef_search));
  }
  VENTROS_RETURN_IF_ERROR(positive("memory.embedder_batch_size", c.memory.embedder_batch_size));
  VENTROS_RETURN_IF_ERROR(
      positive("memory.embedding_cache_entries", c.memory.embedding_cache_entries));
  VENTROS_RETURN_IF_ERROR(positive("memory.search_cache_entries", c.memory.search_cache_entries));
  VENTROS_RETURN_IF_ERROR(
      positive("memory.vector_refresh_interval_ms", c.memory.vector_refresh_interval_ms));
  if (c.memory.search_cache_ttl_ms < 0) {
    return Status::InvalidArgument("configuration key 'memory.search_cache_ttl_ms' must be >= 0");
  }
  return Status::Ok();
}

std::vector<std::string> ConfigLoader::ProcessEnvironment() {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) out.emplace_back(*e);
  return out;
}

Result<std::pair<std::string, uint16_t>> ParseListenAddress(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return Status::InvalidArgument(
        fmt::format("'{}' is not host:port (e.g. 127.0.0.1:8080)", text));
  }
  std::string host(text.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string_view port_text = text.substr(colon + 1);
  uint32_t port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') {
      return Status::InvalidArgument(fmt::format("'{}': port must be a number", text));
    }
    port = port * 10 + (c - '0');
    if (port > 65535) return Status::InvalidArgument(fmt::format("'{}': port out of range", text));
  }
  return std::make_pair(host, static_cast<uint16_t>(port));
}

}  // namespace ventros::core

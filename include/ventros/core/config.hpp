#pragma once
// Configuration: defaults, then config/ventros.json (comments allowed), then VENTROS_* environment
// variables, then CLI flags. Every key is declared once in the schema (config.cpp) with its type
// and documentation; an unknown key or a wrong type is an error that names the key.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ventros/core/status.hpp"

namespace ventros::core {

struct Config {
  struct Server {
    std::string listen = "127.0.0.1:8080";
    int io_threads = 2;
    int worker_threads = 8;
    int64_t body_limit_bytes = 1024 * 1024;
    int64_t read_timeout_ms = 30000;
    int64_t shutdown_grace_ms = 10000;
    std::string public_url;  // empty: http://<listen>
  } server;
  struct Database {
    std::string url = "sqlite://./data/ventros.db";
    int pool_size = 8;
    int64_t acquire_timeout_ms = 5000;
    int64_t connect_timeout_ms = 5000;
    bool auto_migrate = true;
    std::string sqlite_synchronous = "normal";  // normal | full
  } database;
  struct Log {
    std::string level = "info";
    std::string format = "text";
    bool requests = true;
    std::string file;  // empty: stderr
  } log;
  struct HttpClient {
    int64_t connect_timeout_ms = 5000;
    int64_t request_timeout_ms = 30000;
    int max_retries = 2;
  } http_client;
  struct Crm {
    int64_t session_timeout_ms = 30 * 60 * 1000;
    int64_t session_sweep_interval_ms = 30000;
  } crm;
  struct Waha {
    std::string media_dir = "data/media";
    int64_t media_max_bytes = 64 * 1024 * 1024;
    std::string media_base_url;  // replaces scheme://host:port of media URLs (WAHA says localhost)
    int send_max_attempts = 5;
    bool humanize = false;
    int64_t typing_delay_ms = 1500;
    bool apply_inline = true;  // apply webhooks in the transaction that stores them
  } waha;
  struct Events {
    int64_t poll_interval_ms = 250;
    bool run_consumers = true;  // false: an edge instance that only stores and answers
    int consumer_nice = 10;     // consumers yield the CPU to request handling
    int64_t position_save_interval_ms = 250;
  } events;
  struct Llm {
    std::string provider = "offline";  // offline | gemini | openai
    std::string base_url;
    std::string model;
    std::string api_key;  // secret: set through the environment
    int64_t timeout_ms = 60000;
    // USD per million tokens, "model=input/output/cached_input", for the cost of agent turns.
    std::vector<std::string> prices = {
        "gemini-2.5-flash=0.30/2.50/0.075", "gemini-2.5-pro=1.25/10.00/0.31",
        "gemini-2.0-flash=0.10/0.40/0.025", "gpt-4o-mini=0.15/0.60/0.075",
        "gpt-4o=2.50/10.00/1.25",           "gpt-4.1-mini=0.40/1.60/0.10"};
  } llm;
  struct Observability {
    int64_t sample_percent = 100;  // traces kept by the span store (usage counts every one)
    // Where spans are stored. Empty: with SQLite a file of its own next to the main database
    // ("<name>-traces.db": its own writer, so span writes never wait for or delay the CRM's);
    // with PostgreSQL the main database. "main": the main database in any case.
    std::string database_url;
    int64_t retention_days = 14;
    std::string otlp_endpoint;  // e.g. http://127.0.0.1:6006/v1/traces (Phoenix); empty: off
    std::vector<std::string> otlp_headers;  // "Name: value" (secrets: set through the environment)
    std::string otlp_project = "ventros";   // openinference.project.name
  } observability;
  struct Workflows {
    int64_t workers = 2;  // threads that advance workflows (where consumers run)
  } workflows;
  struct Agents {
    int64_t max_backlog_age_ms = 24LL * 3600 * 1000;
    int64_t turn_timeout_ms = 30000;
    int64_t followup_interval_ms = 30000;
  } agents;
  struct Memory {
    std::string embedder = "local";  // local | gemini | vertex | openai
    std::string embedder_url;
    std::string embedder_model;
    std::string embedder_api_key;  // secret: set through the environment
    int embedder_dimensions = 768;
    int embedder_batch_size = 64;
    std::string rerank_url;  // empty: the local scorer
    std::string rerank_model = "jina-reranker-v2-base-multilingual";
    std::string rerank_api_key;  // secret: set through the environment
    int64_t embedding_cache_entries = 10000;
    int64_t search_cache_entries = 2000;
    int64_t search_cache_ttl_ms = 60000;
    int ef_search = 96;
    int64_t vector_refresh_interval_ms = 2000;
  } memory;
  struct Bootstrap {
    bool create_default_tenant = true;
    std::string default_tenant_name = "default";
  } bootstrap;
  std::vector<std::string> modules = {"crm", "memory", "agents", "workflows", "observability"};
};

enum class ConfigType { kString, kInt, kBool, kStringList };

struct ConfigKeyInfo {
  std::string key;  // "server.listen"
  ConfigType type;
  std::string env;            // "VENTROS_SERVER_LISTEN"
  std::string default_value;  // as JSON text
  std::string doc;
};

// Every key of the schema, in documentation order.
const std::vector<ConfigKeyInfo>& ConfigSchema();

class ConfigLoader {
 public:
  // Loads defaults, then the file (when path is non-empty; a missing explicitly named file is an
  // error), then the environment (envp-style list "NAME=value").
  static Result<Config> Load(const std::string& path, const std::vector<std::string>& environment);
  // Applies one "key=value" override (CLI flags), value parsed by the key's type.
  static Status Set(Config& config, std::string_view key, std::string_view value);
  // Checks cross-field rules (log level names, listen address, positive sizes).
  static Status Validate(const Config& config);
  // The environment of this process as "NAME=value" strings.
  static std::vector<std::string> ProcessEnvironment();
};

// Parses "host:port" ("[::1]:8080" for IPv6). Port 0 is allowed (pick a free port).
Result<std::pair<std::string, uint16_t>> ParseListenAddress(std::string_view text);

}  // namespace ventros::core

// Operational routes every instance serves: liveness, readiness, metrics, the API description and
// the dashboard (/ui/, files embedded from ui/).

#include <fmt/format.h>

#include <atomic>
#include <memory>

#include "app/app.hpp"
#include "ventros/core/embedded.hpp"
#include "ventros/core/json.hpp"
#include "ventros/core/migrations.hpp"

namespace ventros::app {

using core::HttpRequest;
using core::HttpResponse;

void RegisterSystemRoutes(core::Router& router, core::Database& db, core::MetricsRegistry& metrics,
                          const core::Clock& clock) {
  router.Add("GET", "/healthz",
             [](HttpRequest&) { return HttpResponse::Json(200, R"({"status":"ok"})"); },
             {.execution = core::Execution::kInline, .summary = "The process is alive"});

  // Migrations never go backwards, so once verified current they stay current for this binary.
  auto migrations_current = std::make_shared<std::atomic<bool>>(false);
  router.Add("GET", "/readyz",
             [&db, &clock, migrations_current](HttpRequest& req) {
               core::json::object checks;
               bool ready = true;
               core::Status ping = db.Ping();
               if (ping.ok()) {
                 checks["database"] = "ok";
               } else {
                 checks["database"] = ping.message();
                 ready = false;
               }
               if (ping.ok() && !migrations_current->load()) {
                 core::Migrator m(db, core::Migrator::EmbeddedFor(db.engine()), clock);
                 core::Status st = m.CheckCurrent();
                 if (st.ok()) {
                   migrations_current->store(true);
                 } else {
                   checks["migrations"] = st.message();
                   ready = false;
                 }
               }
               if (migrations_current->load()) checks["migrations"] = "ok";
               core::json::object body;
               body["status"] = ready ? "ready" : "unavailable";
               body["checks"] = std::move(checks);
               if (!ready) {
                 core::json::object err;
                 err["code"] = "unavailable";
                 err["message"] = "not ready";
                 err["request_id"] = req.request_id;
                 body["error"] = std::move(err);
               }
               HttpResponse r = HttpResponse::Json(ready ? 200 : 503, core::json::serialize(body));
               if (!ready) r.headers.emplace_back("Retry-After", "1");
               return r;
             },
             {.summary = "Ready to serve: database reachable and migrations current"});

  metrics.AddCollector([&db](core::MetricsRegistry& m) {
    core::PoolStats s = db.Stats();
    const std::string help = "Database connection pool";
    m.GetGauge("ventros_db_pool_connections", help, {{"state", "open"}}).Set(s.size);
    m.GetGauge("ventros_db_pool_connections", help, {{"state", "in_use"}}).Set(s.in_use);
    m.GetGauge("ventros_db_pool_connections", help, {{"state", "max"}}).Set(s.max_size);
    m.GetGauge("ventros_db_pool_acquisitions", "Connections borrowed since start")
        .Set(static_cast<double>(s.acquired_total));
    m.GetGauge("ventros_db_pool_waits", "Borrows that waited for a free connection")
        .Set(static_cast<double>(s.waits_total));
    m.GetGauge("ventros_db_pool_timeouts", "Borrows that gave up waiting")
        .Set(static_cast<double>(s.timeouts_total));
  });
  router.Add("GET", "/metrics",
             [&metrics](HttpRequest&) {
               return HttpResponse::Text(200, metrics.RenderPrometheus(),
                                         "text/plain; version=0.0.4; charset=utf-8");
             },
             {.execution = core::Execution::kInline, .summary = "Prometheus metrics"});

  router.Add(
      "GET", "/openapi.json",
      [](HttpRequest&) { return HttpResponse::Json(200, std::string(core::EmbeddedOpenApi())); },
      {.execution = core::Execution::kInline, .summary = "OpenAPI 3.1 description of this API"});

  // The dashboard: public, in-memory files; the page itself asks for an API key and calls the API
  // with it. "/ui" also matches "/ui/" (the router ignores the trailing slash), and index.html
  // refers to its files by absolute path so both work.
  auto serve_ui = [](HttpRequest& req, std::string_view name) {
    auto file = core::EmbeddedUiFile(name);
    if (!file) {
      return HttpResponse::FromStatus(core::Status::NotFound("no such dashboard file"),
                                      req.request_id);
    }
    HttpResponse r =
        HttpResponse::Text(200, std::string(file->content), std::string(file->content_type));
    r.headers.emplace_back("Cache-Control", "no-cache");
    return r;
  };
  router.Add("GET", "/ui", [serve_ui](HttpRequest& req) { return serve_ui(req, "index.html"); },
             {.execution = core::Execution::kInline, .summary = "The dashboard page"});
  router.Add("GET", "/ui/{file}",
             [serve_ui](HttpRequest& req) { return serve_ui(req, req.PathParam("file")); },
             {.execution = core::Execution::kInline, .summary = "A file of the dashboard"});
}

}  // namespace ventros::app

#pragma once
// The workflows' REST surface and the tenant's triggers (which built-in workflows start on the
// tenant's own events).
//
// Thread-safety: Triggers is stateless apart from references.

#include <map>
#include <string>

#include "ventros/core/clock.hpp"
#include "ventros/core/db.hpp"
#include "ventros/core/http.hpp"
#include "ventros/core/status.hpp"
#include "ventros/workflows/engine.hpp"

namespace ventros::workflows {

class Triggers {
 public:
  Triggers(core::Database& db, const core::Clock& clock) : db_(db), clock_(clock) {}
  // Types that may be triggered: lead_nurturing (on contact.created). InvalidArgument otherwise.
  Status Set(const std::string& tenant, const std::string& type, bool enabled);
  Result<bool> Enabled(const std::string& tenant, const std::string& type);
  Result<std::map<std::string, bool>> List(const std::string& tenant);

 private:
  core::Database& db_;
  const core::Clock& clock_;
};

// GET/POST /v1/workflows, GET /v1/workflows/{id}, POST /v1/workflows/{id}/signal,
// POST /v1/workflows/{id}/cancel, GET /v1/workflow-triggers, PUT /v1/workflow-triggers/{type}.
void RegisterWorkflowRoutes(core::Router& router, Engine& engine, Triggers& triggers);

}  // namespace ventros::workflows

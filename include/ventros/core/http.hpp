#pragma once
// Transport-independent HTTP types and the router. Handlers see HttpRequest/HttpResponse only;
// Beast stays inside http_server.cpp.
//
// Thread-safety: the Router is built before the server starts and is read-only afterwards.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ventros/core/status.hpp"

namespace ventros::core {

// Roles of API keys, ordered: admin may do what agent may, agent what readonly may.
enum class Role { kReadonly = 1, kAgent = 2, kAdmin = 3 };
std::string_view RoleName(Role role);
std::optional<Role> ParseRole(std::string_view text);

// Who is calling, decided by the API key.
struct Principal {
  std::string tenant_id;
  std::string api_key_id;
  Role role = Role::kReadonly;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET"
  std::string target;  // "/v1/api-keys?limit=10"
  std::string path;    // "/v1/api-keys" (percent-decoded)
  std::string query;   // "limit=10"
  HeaderList headers;
  std::string body;
  std::string request_id;
  std::string remote_address;
  std::map<std::string, std::string> path_params;
  std::optional<Principal> principal;  // set for authenticated routes

  std::string Header(std::string_view name) const;  // case-insensitive; "" when absent
  std::optional<std::string> QueryParam(std::string_view name) const;  // decoded
  const std::string& PathParam(const std::string& name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  HeaderList headers;
  // Not sent: the cause of a 5xx, written to the request log line.
  std::string log_detail;

  static HttpResponse Json(int status, std::string body);
  static HttpResponse Text(int status, std::string body, std::string content_type = "text/plain");
  static HttpResponse NoContent();
  // {"error":{"code","message","request_id"}}
  static HttpResponse Error(int status, std::string_view code, std::string_view message,
                            std::string_view request_id);
  // Maps a non-OK Status to its HTTP status and error code (the one place this mapping lives).
  static HttpResponse FromStatus(const Status& status, std::string_view request_id);
};

int HttpStatusFor(StatusCode code);

enum class Execution {
  kInline,    // runs on the I/O thread: must not block (health, metrics)
  kBlocking,  // runs on the worker pool (database, outside calls)
  kAsync,     // starts on the I/O thread without blocking; answers later through a Responder
};

struct RouteOptions {
  Execution execution = Execution::kBlocking;
  std::optional<Role> min_role;  // nullopt: public route, no API key needed
  std::string summary;           // one line, for logs and docs
};

using Handler = std::function<HttpResponse(HttpRequest&)>;
// Answers an asynchronous request: call it exactly once, from any thread. The request stays
// alive (and unchanged) until then.
using Responder = std::function<void(HttpResponse)>;
using AsyncHandler = std::function<void(HttpRequest&, Responder)>;

struct Route {
  std::string method;
  std::string pattern;  // "/v1/api-keys/{id}"
  Handler handler;
  AsyncHandler async_handler;  // Execution::kAsync
  RouteOptions options;
  std::vector<std::string> segments;  // pattern split on '/'
};

// Decides the Principal for a request carrying credentials; errors are Unauthenticated (401).
using Authenticator = std::function<Result<Principal>(const HttpRequest&)>;

class Router {
 public:
  void Add(std::string method, std::string pattern, Handler handler, RouteOptions options = {});
  // A route whose handler hands the work to another thread and answers through the Responder,
  // so no worker thread waits for it (options.execution becomes kAsync). Authentication, when
  // the route needs a role, runs on the I/O thread.
  void AddAsync(std::string method, std::string pattern, AsyncHandler handler,
                RouteOptions options = {});
  void SetAuthenticator(Authenticator authenticator) { authenticator_ = std::move(authenticator); }

  struct Match {
    const Route* route = nullptr;
    std::map<std::string, std::string> params;
    bool path_matched = false;  // some route has this path with another method (405)
    std::vector<std::string> allowed_methods;
  };
  Match Find(std::string_view method, std::string_view path) const;

  // Runs authentication, the role check and the handler; exceptions become 500.
  HttpResponse Dispatch(const Route& route, HttpRequest& request) const;
  // The same for a kAsync route: `respond` is called exactly once.
  void DispatchAsync(const Route& route, HttpRequest& request, Responder respond) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  // The route's role check: OK for a public route, else authenticates and sets the principal.
  Status Authorize(const Route& route, HttpRequest& request) const;
  void AddRoute(Route route, std::string method, std::string pattern, RouteOptions options);
  std::vector<Route> routes_;
  Authenticator authenticator_;
};

// Splits "a=1&b=x%20y" into decoded pairs.
std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query);
std::string PercentDecode(std::string_view text, bool plus_as_space);

}  // namespace ventros::core

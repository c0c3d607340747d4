#include "ventros/core/http.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <memory>

#include "ventros/core/log.hpp"

namespace ventros::core {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kReadonly:
      return "readonly";
    case Role::kAgent:
      return "agent";
    case Role::kAdmin:
      return "admin";
  }
  return "readonly";
}

std::optional<Role> ParseRole(std::string_view text) {
  if (text == "readonly") return Role::kReadonly;
  if (text == "agent") return Role::kAgent;
  if (text == "admin") return Role::kAdmin;
  return std::nullopt;
}

namespace {
bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string PercentDecode(std::string_view text, bool plus_as_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
        HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = 0;
  while (i <= query.size() && !query.empty()) {
    size_t amp = query.find('&', i);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view part = query.substr(i, amp - i);
    if (!part.empty()) {
      size_t eq = part.find('=');
      if (eq == std::string_view::npos) {
        out.emplace_back(PercentDecode(part, true), "");
      } else {
        out.emplace_back(PercentDecode(part.substr(0, eq), true),
                         PercentDecode(part.substr(eq + 1), true));
      }
    }
    if (amp == query.size()) break;
    i = amp + 1;
  }
  return out;
}

std::string HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return v;
  }
  return {};
}

std::optional<std::string> HttpRequest::QueryParam(std::string_view name) const {
  for (auto& [k, v] : ParseQuery(query)) {
    if (k == name) return v;
  }
  return std::nullopt;
}

const std::string& HttpRequest::PathParam(const std::string& name) const {
  static const std::string kEmpty;
  auto it = path_params.find(name);
  return it == path_params.end() ? kEmpty : it->second;
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Text(int status, std::string body, std::string content_type) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

HttpResponse HttpResponse::NoContent() {
  HttpResponse r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

HttpResponse HttpResponse::Error(int status, std::string_view code, std::string_view message,
                                 std::string_view request_id) {
  return Json(status, fmt::format(R"({{"error":{{"code":"{}","message":"{}","request_id":"{}"}}}})",
                                  JsonEscape(code), JsonEscape(message), JsonEscape(request_id)));
}

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kConflict:
      return 409;
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

HttpResponse HttpResponse::FromStatus(const Status& status, std::string_view request_id) {
  // Internal details stay in the logs, not in the answer. So do the causes of Unavailable: they
  // name hosts and database URLs the client has no business seeing.
  std::string_view message = status.message();
  if (status.code() == StatusCode::kInternal) message = "internal error";
  if (status.code() == StatusCode::kUnavailable) {
    message = "service temporarily unavailable; retry later";
  }
  HttpResponse r =
      Error(HttpStatusFor(status.code()), StatusCodeName(status.code()), message, request_id);
  if (status.code() == StatusCode::kUnauthenticated) {
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
  }
  if (status.code() == StatusCode::kUnavailable) r.headers.emplace_back("Retry-After", "1");
  if (status.code() == StatusCode::kInternal || status.code() == StatusCode::kUnavailable) {
    r.log_detail = status.message();
  }
  return r;
}

void Router::Add(std::string method, std::string pattern, Handler handler, RouteOptions options) {
  Route r;
  r.handler = std::move(handler);
  AddRoute(std::move(r), std::move(method), std::move(pattern), std::move(options));
}

void Router::AddAsync(std::string method, std::string pattern, AsyncHandler handler,
                      RouteOptions options) {
  Route r;
  r.async_handler = std::move(handler);
  options.execution = Execution::kAsync;
  AddRoute(std::move(r), std::move(method), std::move(pattern), std::move(options));
}

void Router::AddRoute(Route route, std::string method, std::string pattern, RouteOptions options) {
  route.segments = SplitPath(pattern);
  route.method = std::move(method);
  route.pattern = std::move(pattern);
  route.options = std::move(options);
  routes_.push_back(std::move(route));
}

Router::Match Router::Find(std::string_view method, std::string_view path) const {
  Match best;
  std::vector<std::string> segs = SplitPath(path);
  int best_literals = -1;
  for (const auto& route : routes_) {
    if (route.segments.size() != segs.size()) continue;
    std::map<std::string, std::string> params;
    int literals = 0;
    bool ok = true;
    for (size_t i = 0; i < segs.size(); ++i) {
      const std::string& p = route.segments[i];
      if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
        if (segs[i].empty()) {
          ok = false;
          break;
        }
        params[p.substr(1, p.size() - 2)] = segs[i];
      } else if (p == segs[i]) {
        ++literals;
      } else {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    best.path_matched = true;
    best.allowed_methods.push_back(route.method);
    // Literal segments win over parameters ("/v1/x/me" before "/v1/x/{id}").
    if (route.method == method && literals > best_literals) {
      best.route = &route;
      best.params = std::move(params);
      best_literals = literals;
    }
  }
  return best;
}

Status Router::Authorize(const Route& route, HttpRequest& request) const {
  if (!route.options.min_role) return Status::Ok();  // public
  if (!authenticator_) return Status::Internal("no authenticator");
  auto principal = authenticator_(request);
  if (!principal.ok()) return principal.status();
  if (static_cast<int>(principal->role) < static_cast<int>(*route.options.min_role)) {
    return Status::PermissionDenied(fmt::format("this action needs the {} role; the key has {}",
                                                RoleName(*route.options.min_role),
                                                RoleName(principal->role)));
  }
  request.principal = std::move(principal).value();
  return Status::Ok();
}

void Router::DispatchAsync(const Route& route, HttpRequest& request, Responder respond) const {
  // The responder is shared so that an exception after it was handed on cannot answer twice.
  auto answered = std::make_shared<std::atomic<bool>>(false);
  Responder once = [answered, respond = std::move(respond)](HttpResponse res) {
    if (!answered->exchange(true)) respond(std::move(res));
  };
  try {
    if (Status auth = Authorize(route, request); !auth.ok()) {
      once(HttpResponse::FromStatus(auth, request.request_id));
      return;
    }
    route.async_handler(request, once);
  } catch (const std::exception& e) {
    once(HttpResponse::FromStatus(Status::Internal(e.what()), request.request_id));
  }
}

HttpResponse Router::Dispatch(const Route& route, HttpRequest& request) const {
  try {
    if (Status auth = Authorize(route, request); !auth.ok()) {
      return HttpResponse::FromStatus(auth, request.request_id);
    }
    return route.handler(request);
  } catch (const std::exception& e) {
    return HttpResponse::FromStatus(Status::Internal(e.what()), request.request_id);
  }
}

}  // namespace ventros::core

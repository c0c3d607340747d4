#pragma once
// A scripted HTTP/1.1 server on 127.0.0.1 (port 0) for hermetic HttpClient tests, plain or TLS,
// plus a self-signed certificate generator for the TLS case.
//
// Thread-safety: the handler runs on the server's own I/O thread; every public member may be
// called from the test thread while the server runs. The server owns its thread and sockets and
// stops both in its destructor.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace ventros::testing {

struct FakeRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int connection = 0;  // 1-based number of the connection the request arrived on

  // Case-insensitive; empty when absent.
  std::string Header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (EqualsIgnoreCase(key, name)) return value;
    }
    return {};
  }
  bool HasHeader(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (EqualsIgnoreCase(key, name)) return true;
    }
    return false;
  }

  static bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  }
};

struct FakeReply {
  enum class Action {
    kRespond,  // send the response below
    kHang,     // never answer; wait for the client to give up
    kClose,    // close the connection without answering
  };
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  Action action = Action::kRespond;
  bool close_after = false;  // answer with Connection: close, then close

  static FakeReply Hang() { return FakeReply{.action = Action::kHang}; }
  static FakeReply Close() { return FakeReply{.action = Action::kClose}; }
};

struct TlsIdentity {
  std::string certificate_pem;
  std::string private_key_pem;
};

// A self-signed P-256 certificate for `dns_name` and `ip` (subject alternative names), valid from
// an hour ago for a day. It is its own CA, so a client trusts it through ca_file.
inline TlsIdentity MakeSelfSignedIdentity(const std::string& dns_name = "localhost",
                                          const std::string& ip = "127.0.0.1") {
  struct KeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  };
  struct CertFree {
    void operator()(X509* p) const { X509_free(p); }
  };
  struct ExtFree {
    void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  };
  struct BioFree {
    void operator()(BIO* p) const { BIO_free(p); }
  };
  auto fail = [](const char* what) {
    throw std::runtime_error(std::string("MakeSelfSignedIdentity: ") + what);
  };
  auto to_string = [](BIO* bio) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<size_t>(size));
  };

  std::unique_ptr<EVP_PKEY, KeyFree> key(EVP_EC_gen("P-256"));
  if (!key) fail("key generation");
  std::unique_ptr<X509, CertFree> cert(X509_new());
  if (!cert) fail("X509_new");
  constexpr long kOneHour = 3600;
  constexpr long kOneDay = 24 * kOneHour;
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kOneHour);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), kOneDay);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(dns_name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::string alt_names = "DNS:" + dns_name + (ip.empty() ? "" : ",IP:" + ip);
  for (const auto& [nid, value] :
       std::vector<std::pair<int, std::string>>{{NID_subject_alt_name, alt_names},
                                                {NID_basic_constraints, "critical,CA:TRUE"},
                                                {NID_subject_key_identifier, "hash"}}) {
    std::unique_ptr<X509_EXTENSION, ExtFree> ext(
        X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1) fail("certificate extension");
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) fail("X509_sign");

  std::unique_ptr<BIO, BioFree> cert_bio(BIO_new(BIO_s_mem()));
  std::unique_ptr<BIO, BioFree> key_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !key_bio || PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1) {
    fail("PEM encoding");
  }
  return TlsIdentity{.certificate_pem = to_string(cert_bio.get()),
                     .private_key_pem = to_string(key_bio.get())};
}

class FakeHttpServer {
 public:
  using Handler = std::function<FakeReply(const FakeRequest&)>;

  // Replies in order; the last one repeats.
  static Handler Script(std::vector<FakeReply> replies) {
    struct State {
      std::mutex mutex;
      std::vector<FakeReply> replies;
      size_t next = 0;
    };
    auto state = std::make_shared<State>();
    state->replies = std::move(replies);
    return [state](const FakeRequest&) {
      std::lock_guard lock(state->mutex);
      if (state->replies.empty()) return FakeReply{};
      const size_t index = std::min(state->next, state->replies.size() - 1);
      ++state->next;
      return state->replies[index];
    };
  }

  explicit FakeHttpServer(Handler handler, std::optional<TlsIdentity> tls = std::nullopt)
      : handler_(std::move(handler)), acceptor_(io_) {
    namespace asio = boost::asio;
    if (tls) {
      tls_context_.emplace(asio::ssl::context::tls_server);
      tls_context_->use_certificate_chain(asio::buffer(tls->certificate_pem));
      tls_context_->use_private_key(asio::buffer(tls->private_key_pem), asio::ssl::context::pem);
    }
    const asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, AcceptLoop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }

  ~FakeHttpServer() {
    io_.stop();
    thread_.join();
  }

  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  uint16_t port() const { return port_; }

  // "http://127.0.0.1:<port><path>" (https when serving TLS).
  std::string Url(std::string_view path = "/", std::string_view host = "127.0.0.1") const {
    return std::string(tls_context_ ? "https://" : "http://") + std::string(host) + ":" +
           std::to_string(port_) + std::string(path);
  }

  std::vector<FakeRequest> Requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  int ConnectionsAccepted() const { return connections_accepted_.load(); }

  // Closes every open connection from the server side, as an idle timeout would, and returns
  // once they are closed.
  void CloseConnections() {
    std::promise<void> done;
    boost::asio::post(io_, [this, &done] {
      for (auto& [id, socket] : open_sockets_) {
        boost::system::error_code ignored;
        socket->shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
        socket->close(ignored);
      }
      done.set_value();
    });
    done.get_future().wait();
  }

 private:
  using Socket = boost::asio::ip::tcp::socket;
  using TlsSocket = boost::asio::ssl::stream<Socket>;

  boost::asio::awaitable<void> AcceptLoop() {
    namespace asio = boost::asio;
    for (;;) {
      boost::system::error_code ec;
      Socket socket =
          co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      const int id = ++connections_accepted_;
      asio::co_spawn(io_, Session(std::move(socket), id), asio::detached);
    }
  }

  boost::asio::awaitable<void> Session(Socket socket, int id) {
    namespace asio = boost::asio;
    if (!tls_context_) {
      open_sockets_[id] = &socket;
      co_await Serve(socket, id);
      open_sockets_.erase(id);
      co_return;
    }
    TlsSocket stream(std::move(socket), *tls_context_);
    open_sockets_[id] = &stream.next_layer();
    boost::system::error_code ec;
    co_await stream.async_handshake(asio::ssl::stream_base::server,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) co_await Serve(stream, id);
    open_sockets_.erase(id);
  }

  template <typename Stream>
  boost::asio::awaitable<void> Serve(Stream& stream, int id) {
    namespace asio = boost::asio;
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buffer;
    for (;;) {
      boost::system::error_code ec;
      http::request<http::string_body> request;
      co_await http::async_read(stream, buffer, request,
                                asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      FakeRequest seen{.method = std::string(request.method_string()),
                       .target = std::string(request.target()),
                       .body = request.body(),
                       .connection = id};
      for (const auto& field : request) {
        seen.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(seen);
      }
      const FakeReply reply = handler_(seen);
      if (reply.action == FakeReply::Action::kClose) co_return;
      if (reply.action == FakeReply::Action::kHang) {
        // Reads until the client gives up and closes its end.
        char sink[256];
        for (;;) {
          co_await stream.async_read_some(asio::buffer(sink),
                                          asio::redirect_error(asio::use_awaitable, ec));
          if (ec) co_return;
        }
      }
      http::response<http::string_body> response(static_cast<http::status>(reply.status),
                                                 request.version());
      for (const auto& [name, value] : reply.headers) response.insert(name, value);
      response.body() = reply.body;
      response.prepare_payload();
      response.keep_alive(request.keep_alive() && !reply.close_after);
      co_await http::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !response.keep_alive()) co_return;
    }
  }

  Handler handler_;
  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_;
  std::optional<boost::asio::ssl::context> tls_context_;
  uint16_t port_ = 0;
  std::atomic<int> connections_accepted_{0};
  std::map<int, Socket*> open_sockets_;  // I/O thread only
  mutable std::mutex mutex_;
  std::vector<FakeRequest> requests_;
  std::thread thread_;
};

}  // namespace ventros::testing

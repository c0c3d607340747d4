#pragma once
// WAHA inbound: the webhook edge stores every delivery raw (after checking its HMAC) and answers
// as soon as it is durable; a bus consumer then turns it into contacts, sessions and messages.
// Outbound: a consumer of message.send_requested sends through WAHA without ever re-sending a
// message whose outcome is unknown. A third consumer downloads media into a content-addressed
// store.
//
// Thread-safety: all classes hold references only and may be used from any thread.

#include <atomic>
#include <boost/json/fwd.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "ventros/core/clock.hpp"
#include "ventros/core/db.hpp"
#include "ventros/core/events.hpp"
#include "ventros/core/http.hpp"
#include "ventros/core/log.hpp"
#include "ventros/crm/messaging.hpp"
#include "ventros/waha/gateway.hpp"

namespace ventros::waha {

using core::Result;
using core::Status;

inline constexpr const char* kWebhookReceived = "waha.webhook_received";

struct WahaOptions {
  int send_max_attempts = 5;  // after this many retryable failures a send is failed
  bool humanize = false;      // seen -> typing -> wait -> stop typing -> send
  std::chrono::milliseconds typing_delay{1500};
  std::string media_dir = "data/media";
  size_t media_max_bytes = 64 * 1024 * 1024;
};

struct IngestOptions {
  // Apply each webhook in the transaction that stores it (see WahaIngest::Receive); false: only
  // store it, for the waha.ingest consumer to apply (an edge instance).
  bool apply_inline = true;
  // Writer threads behind Submit. Webhooks of one chat always go to the same one (their order,
  // and no two transactions on one contact's rows). SQLite has one writer: 1; PostgreSQL takes
  // several.
  int writers = 1;
};

class WahaIngest {
 public:
  WahaIngest(core::Database& db, const core::Clock& clock, crm::MessagingService& messaging,
             core::EventBus* bus, core::Logger logger, IngestOptions options = {});

  struct Stored {
    bool duplicate = false;
    std::string inbox_id;
  };
  // Verifies the HMAC (when the channel has a secret) and stores the raw body. Concurrent calls
  // share one transaction (group commit). With apply_inline the webhook is applied in that same
  // transaction and stored as processed; when applying fails (the whole batch is then stored
  // again without it), when apply_inline is off, or while earlier webhooks still wait to be
  // applied (order per chat), it is stored pending with a waha.webhook_received event for the
  // bus. Either way it is durable when this returns. Duplicates (same envelope id, or the same
  // message id again) store nothing. Errors: Unauthenticated (HMAC), InvalidArgument (not JSON).
  Result<Stored> Receive(const crm::Channel& channel, std::string_view raw_body,
                         std::string_view hmac_header);
  // The same without blocking the caller: the HMAC and JSON are checked on the calling thread
  // when the channel is cached, then one writer thread stores everything queued meanwhile in one
  // transaction and calls `done` (on that thread). `raw_body` must stay valid until then; errors
  // also include NotFound (no such channel).
  void Submit(const crm::ChannelId& channel_id, std::string_view raw_body,
              std::string_view hmac_header, std::function<void(Result<Stored>)> done);
  ~WahaIngest();
  // Answers what the writer threads hold and stops them (Submit must not be called after). Call
  // it once the HTTP server has stopped and before it is destroyed: the answers go to its
  // connections.
  void Stop();
  WahaIngest(const WahaIngest&) = delete;
  WahaIngest& operator=(const WahaIngest&) = delete;

  // Applies one stored webhook. Malformed payloads are marked failed with the reason (no retry);
  // database errors return an error so the bus retries.
  Status Process(const std::string& inbox_id);

  // Applies several stored webhooks in one transaction (the bus's batch path).
  Status ProcessBatch(std::span<const core::Event> events);

  // The bus handlers for waha.webhook_received.
  core::EventHandler Handler();
  core::EventBatchHandler BatchHandler();

  // The channel by id, from a cache kept for a few seconds (a webhook burst reads it once);
  // changes to a channel (key, secret, deletion) take effect within kChannelCacheMs.
  // `conn`: read through this connection on a miss (the caller holds a transaction on it).
  Result<crm::Channel> GetChannel(const crm::ChannelId& id, core::Connection* conn = nullptr);
  // The cached channel, or null (never reads the database).
  std::shared_ptr<const crm::Channel> CachedChannel(const crm::ChannelId& id);
  static constexpr int64_t kChannelCacheMs = 5000;

  // Parses a WAHA message payload; `envelope_timestamp_ms` is used when it carries no timestamp.
  static Result<crm::InboundMessage> ParseMessage(std::string_view payload_json,
                                                  int64_t envelope_timestamp_ms);

 private:
  // Group commit: concurrent webhooks are stored in one transaction. The first caller to find
  // no batch in progress writes everything queued so far; the others wait for their result.
  struct Pending;
  // Checks the HMAC and parses `item.body` for `item.channel`; fills in the rest of the item.
  Status Prepare(Pending& item, std::string_view hmac_header);
  // One writer thread and its queue.
  struct Writer {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::unique_ptr<Pending>> queue;
    bool stop = false;
    bool sleeping = false;
    std::thread thread;
  };
  void WriterLoop(Writer& w);
  static constexpr size_t kMaxAsyncBatch = 256;
  // What applying a webhook came to: state "processed", "duplicate", "failed" (malformed: not
  // retried) or "ignored", with the reason.
  struct Applied {
    std::string state;
    std::string reason;
  };
  // Applies one stored webhook inside the caller's transaction.
  Status ProcessIn(core::Connection& conn, const std::string& inbox_id);
  // Interprets a webhook (`envelope`: its parsed body, null when not an object) on `conn`, in
  // the caller's transaction. Database errors are returned (the caller rolls back and retries).
  // `admitted_new`: the webhook was just stored under its message id's unique key (on arrival).
  Result<Applied> Apply(core::Connection& conn, const crm::Channel& channel,
                        const std::string& event, const boost::json::object* envelope,
                        bool admitted_new = false);
  Status Finish(core::Connection& conn, const std::string& inbox_id, const Applied& done);
  // Stores a batch, applying it when it can (falls back to storing it pending).
  Status WriteBatch(std::vector<Pending*>& batch);
  Status WriteBatchNoThrow(std::vector<Pending*>& batch);
  Status WriteBatch(core::Connection& conn, std::vector<Pending*>& batch, bool apply);
  // Whether stored webhooks may still wait to be applied (set when pending ones are stored, or
  // found by the first batch; rechecked at most every kBacklogRecheck by one writer).
  bool Backlog(core::Connection& conn);
  void BacklogStarted();  // pending webhooks were stored
  // Whether pending webhooks younger than kBacklogWindowMs exist (true when the query fails).
  bool WaitingRecently(core::Connection& conn);
  // Applies up to kDrainBatch of the oldest pending webhooks in one transaction (unless another
  // writer is at it). True when that was all of them.
  bool DrainPending(core::Connection& conn);
  static constexpr int kDrainBatch = 512;
  // Pending webhooks older than this (the bus gave up on them) no longer hold new ones back.
  static constexpr int64_t kBacklogWindowMs = 60 * 60 * 1000;
  static constexpr std::chrono::milliseconds kBacklogRecheck{200};

  std::mutex cache_mu_;
  std::unordered_map<std::string, std::pair<std::shared_ptr<const crm::Channel>, int64_t>>
      channels_;
  std::mutex batch_mu_;
  std::vector<Pending*> queue_;
  bool writing_ = false;
  std::atomic<bool> backlog_{false};
  std::once_flag backlog_looked_;  // the first batch looks for webhooks left pending
  // Submit's queue and its writer thread (started by the first Submit).
  std::vector<std::unique_ptr<Writer>> writers_;  // started by the first Submit
  std::once_flag writers_started_;
  std::atomic<int64_t> backlog_checked_ns_{0};  // steady clock
  std::mutex drain_mu_;
  std::mutex backlog_mu_;  // with `backlog_`: set by a fallback, cleared by a check
  uint64_t backlog_generation_ = 0;

  core::Database& db_;
  const core::Clock& clock_;
  crm::MessagingService& messaging_;
  core::EventBus* bus_;
  core::Logger logger_;
  IngestOptions options_;
};

class WahaSender {
 public:
  WahaSender(crm::MessagingService& messaging, WahaGateway& gateway, WahaOptions options,
             core::Logger logger)
      : messaging_(messaging),
        gateway_(gateway),
        options_(std::move(options)),
        logger_(std::move(logger)) {}
  // The bus handler for message.send_requested.
  core::EventHandler Handler();
  Status Send(const core::Event& event);

 private:
  crm::MessagingService& messaging_;
  WahaGateway& gateway_;
  WahaOptions options_;
  core::Logger logger_;
};

class MediaDownloader {
 public:
  MediaDownloader(crm::MessagingService& messaging, WahaGateway& gateway, WahaOptions options,
                  core::Logger logger, const core::Clock& clock)
      : messaging_(messaging),
        gateway_(gateway),
        options_(std::move(options)),
        logger_(std::move(logger)),
        clock_(clock) {}
  // WAHA deletes its files a few minutes after a message: past this age a download that keeps
  // failing is recorded as failed instead of retried.
  static constexpr int64_t kGiveUpAfterMs = 10 * 60 * 1000;
  // The bus handler for message.received / message.sent carrying media.
  core::EventHandler Handler();

 private:
  crm::MessagingService& messaging_;
  WahaGateway& gateway_;
  WahaOptions options_;
  core::Logger logger_;
  const core::Clock& clock_;
};

// Asks WAHA for the phone number behind a contact known only by its hidden @lid id, when its
// conversation starts, and links (or merges) the contact accordingly.
class LidResolver {
 public:
  LidResolver(crm::MessagingService& messaging, WahaGateway& gateway, core::Logger logger)
      : messaging_(messaging), gateway_(gateway), logger_(std::move(logger)) {}
  // The bus handler for session.started.
  core::EventHandler Handler();

 private:
  crm::MessagingService& messaging_;
  WahaGateway& gateway_;
  core::Logger logger_;
};

// POST /webhooks/waha/{channel_id}
void RegisterWahaRoutes(core::Router& router, WahaIngest& ingest);

}  // namespace ventros::waha

#include "ventros/waha/ingest.hpp"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "ventros/core/crypto.hpp"
#include "ventros/core/json.hpp"
#include "ventros/core/thread.hpp"

namespace ventros::waha {

using core::DbValue;
namespace json = core::json;
using crm::MessagingService;

struct WahaIngest::Pending {
  const crm::Channel* channel = nullptr;
  std::shared_ptr<const crm::Channel> channel_ref;  // Submit: keeps `channel` alive
  // Submit: the answer, and what Prepare needs when the writer thread reads the channel.
  std::function<void(Result<Stored>)> done_callback;
  bool prepared = false;
  std::string channel_id;
  std::string hmac;
  std::string_view body;
  json::value doc;  // the body, parsed once
  std::string envelope_id;
  std::string event;
  std::optional<std::string> dedup;
  std::string key;
  Stored out;
  Status status;
  bool done = false;
  bool lead = false;  // handed the next batch
  std::condition_variable cv;
};

namespace {

const json::value* Field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return nullptr;
  return &it->value();
}

std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = Field(o, key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

const json::object* Obj(const json::object& o, std::string_view key) {
  const json::value* v = Field(o, key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

std::optional<double> Num(const json::object& o, std::string_view key) {
  const json::value* v = Field(o, key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return static_cast<double>(v->as_int64());
  if (v->is_uint64()) return static_cast<double>(v->as_uint64());
  if (v->is_double()) return v->as_double();
  if (v->is_string()) {
    try {
      return std::stod(std::string(v->as_string()));
    } catch (...) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::string TypeFromMime(const std::string& mime) {
  if (mime == "image/webp") return "sticker";
  if (mime.starts_with("image/")) return "image";
  if (mime.starts_with("audio/")) return "audio";
  if (mime.starts_with("video/")) return "video";
  return "document";
}

// The conversation of a message payload: "fromMe ? to : from", falling back to the id's chat
// part and to the engine's raw key.
std::string ChatOf(const json::object& p, bool from_me) {
  std::string chat = from_me ? Str(p, "to") : Str(p, "from");
  if (chat.empty()) {
    std::string id = Str(p, "id");
    size_t a = id.find('_');
    size_t b = a == std::string::npos ? std::string::npos : id.find('_', a + 1);
    if (b != std::string::npos) chat = id.substr(a + 1, b - a - 1);
  }
  if (chat.empty()) {
    if (const json::object* data = Obj(p, "_data")) {
      if (const json::object* key = Obj(*data, "key")) chat = Str(*key, "remoteJid");
    }
  }
  return MessagingService::NormalizeWaId(chat);
}

std::string EventKey(const std::string& channel_id, const json::object* payload) {
  if (payload) {
    bool from_me = false;
    if (const json::value* v = Field(*payload, "fromMe"); v && v->is_bool()) from_me = v->as_bool();
    std::string chat = ChatOf(*payload, from_me);
    if (!chat.empty()) return fmt::format("waha:{}:{}", channel_id, chat);
  }
  return fmt::format("waha:{}", channel_id);
}

}  // namespace

namespace {
Result<crm::InboundMessage> ParseMessageObject(const json::object& p,
                                               int64_t envelope_timestamp_ms);
}  // namespace

Result<crm::InboundMessage> WahaIngest::ParseMessage(std::string_view payload_json,
                                                     int64_t envelope_timestamp_ms) {
  boost::system::error_code ec;
  json::value v = json::parse(payload_json, ec);
  if (ec || !v.is_object()) return Status::InvalidArgument("payload is not a JSON object");
  return ParseMessageObject(v.as_object(), envelope_timestamp_ms);
}

namespace {

Result<crm::InboundMessage> ParseMessageObject(const json::object& p,
                                               int64_t envelope_timestamp_ms) {
  crm::InboundMessage m;
  m.waha_id = Str(p, "id");
  if (m.waha_id.empty()) return Status::InvalidArgument("payload.id is missing or not a string");
  m.waha_bare_id = MessagingService::BareMessageId(m.waha_id);
  if (const json::value* fm = Field(p, "fromMe"); fm && fm->is_bool()) {
    m.from_me = fm->as_bool();
  } else {
    m.from_me = m.waha_id.starts_with("true_");
  }
  m.chat_id = ChatOf(p, m.from_me);
  if (m.chat_id.empty())
    return Status::InvalidArgument("cannot tell the chat: from/to are missing");
  m.contact_wa_id = m.chat_id;
  if (m.chat_id.ends_with("@g.us")) {
    std::string participant = Str(p, "participant");
    if (participant.empty()) participant = Str(p, "author");
    m.sender_wa_id = MessagingService::NormalizeWaId(participant);
  }
  m.source = Str(p, "source");
  if (m.source.empty()) m.source = m.from_me ? "app" : "contact";
  m.body = Str(p, "body");
  if (auto ts = Num(p, "timestamp")) {
    // Seconds, sometimes fractional; some engines send milliseconds.
    double t = *ts;
    m.message_at = t > 1e11 ? static_cast<int64_t>(std::llround(t))
                            : static_cast<int64_t>(std::llround(t * 1000));
  } else {
    m.message_at = envelope_timestamp_ms;
  }
  if (auto ack = Num(p, "ack")) m.ack = static_cast<int>(*ack);
  if (const json::value* r = Field(p, "replyTo")) {
    if (r->is_string()) {
      m.reply_to = MessagingService::BareMessageId(r->as_string());
    } else if (r->is_object()) {
      std::string rid = Str(r->as_object(), "id");
      if (!rid.empty()) m.reply_to = MessagingService::BareMessageId(rid);
    }
  }
  bool has_media = false;
  if (const json::value* hm = Field(p, "hasMedia"); hm && hm->is_bool()) has_media = hm->as_bool();
  if (const json::object* media = Obj(p, "media")) {
    has_media = true;
    std::string url = Str(*media, "url");
    if (!url.empty()) m.media.url = url;
    std::string mime = Str(*media, "mimetype");
    if (!mime.empty()) m.media.mimetype = mime;
    std::string filename = Str(*media, "filename");
    if (!filename.empty()) m.media.filename = filename;
    if (const json::value* err = Field(*media, "error")) {
      m.media.error = err->is_string() ? std::string(err->as_string()) : json::serialize(*err);
    }
  }
  if (has_media) {
    m.type = TypeFromMime(m.media.mimetype.value_or(""));
  } else if (Obj(p, "location")) {
    m.type = "location";
  } else if (const json::value* vc = Field(p, "vCards");
             vc && vc->is_array() && !vc->as_array().empty()) {
    m.type = "contact";
  } else {
    m.type = "text";
  }
  if (const json::object* data = Obj(p, "_data")) {
    m.push_name = Str(*data, "pushName");
    if (m.push_name.empty()) m.push_name = Str(*data, "notifyName");
    if (const json::object* key = Obj(*data, "key")) {
      // NOWEB: the raw key may name the person by their other id (@lid vs phone).
      std::string raw = MessagingService::NormalizeWaId(Str(*key, "remoteJid"));
      if (!raw.empty() && raw != m.chat_id && !m.chat_id.ends_with("@g.us")) {
        m.alternate_wa_id = raw;
      }
    }
  }
  return m;
}

}  // namespace

Status WahaIngest::Prepare(Pending& item, std::string_view hmac_header) {
  const crm::Channel& channel = *item.channel;
  std::string_view raw_body = item.body;
  if (!channel.hmac_secret.empty()) {
    if (hmac_header.empty()) {
      return Status::Unauthenticated(
          "missing X-Webhook-Hmac header (the channel has an HMAC secret)");
    }
    std::string given;
    for (char c : hmac_header)
      given.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    std::string expected = core::HmacSha512Hex(channel.hmac_secret, raw_body);
    if (!core::ConstantTimeEquals(given, expected)) {
      return Status::Unauthenticated("X-Webhook-Hmac does not match the body");
    }
  }
  // Parsed already when the writer thread prepares it (Submit read its chat).
  boost::system::error_code ec;
  json::value doc = item.doc.is_null() ? json::parse(raw_body, ec) : std::move(item.doc);
  if (ec)
    return Status::InvalidArgument(fmt::format("webhook body is not valid JSON: {}", ec.message()));
  if (!doc.is_object()) return Status::InvalidArgument("webhook body must be a JSON object");
  const json::object& env = doc.as_object();
  std::string envelope_id = Str(env, "id");
  if (envelope_id.empty()) envelope_id = "sha256:" + core::Sha256Hex(raw_body);
  std::string event = Str(env, "event");
  if (event.empty()) event = "unknown";
  const json::object* payload = Obj(env, "payload");
  if ((event == "message" || event == "message.any") && payload) {
    std::string id = Str(*payload, "id");
    if (!id.empty()) item.dedup = "msg:" + MessagingService::BareMessageId(id);
  }
  item.envelope_id = std::move(envelope_id);
  item.event = std::move(event);
  item.key = EventKey(channel.id.str(), payload);
  item.out.inbox_id = core::NewUuidV7(clock_);
  item.doc = std::move(doc);  // `env` and `payload` are not used past here
  return Status::Ok();
}

Result<WahaIngest::Stored> WahaIngest::Receive(const crm::Channel& channel,
                                               std::string_view raw_body,
                                               std::string_view hmac_header) {
  Pending item;
  item.channel = &channel;
  item.body = raw_body;
  VENTROS_RETURN_IF_ERROR(Prepare(item, hmac_header));

  std::unique_lock lock(batch_mu_);
  queue_.push_back(&item);
  if (writing_) {
    // Woken only for this item: when it is written, or to lead the next batch.
    item.cv.wait(lock, [&] { return item.done || item.lead; });
    if (item.done) {
      return item.status.ok() ? Result<Stored>(item.out) : Result<Stored>(item.status);
    }
  }
  // Leader: write what is queued (its own item included) in one transaction, then hand over to
  // the first caller that arrived meanwhile, so no caller keeps writing for others while its own
  // answer waits.
  writing_ = true;
  std::vector<Pending*> batch;
  batch.swap(queue_);
  lock.unlock();
  Status st = WriteBatchNoThrow(batch);
  lock.lock();
  for (Pending* p : batch) {
    if (!st.ok()) p->status = st;
    p->done = true;
    // Under the lock: a waiter returns (and its item goes away) only once it holds it again.
    if (p != &item) p->cv.notify_one();
  }
  if (queue_.empty()) {
    writing_ = false;
  } else {
    queue_.front()->lead = true;
    queue_.front()->cv.notify_one();
  }
  lock.unlock();
  // Nothing written (duplicates only): nobody to wake; an empty list would wake every consumer.
  if (auto types = core::TakeAppendedEventTypes(); !types.empty() && bus_) bus_->Notify(types);
  return item.status.ok() ? Result<Stored>(item.out) : Result<Stored>(item.status);
}

void WahaIngest::Submit(const crm::ChannelId& channel_id, std::string_view raw_body,
                        std::string_view hmac_header, std::function<void(Result<Stored>)> done) {
  auto item = std::make_unique<Pending>();
  item->body = raw_body;
  item->done_callback = std::move(done);
  if (auto cached = CachedChannel(channel_id)) {
    // The usual case: checked and parsed here, on the caller's thread.
    item->channel_ref = std::move(cached);
    item->channel = item->channel_ref.get();
    if (Status st = Prepare(*item, hmac_header); !st.ok()) {
      item->done_callback(st);
      return;
    }
    item->prepared = true;
  } else {
    // The channel must be read from the database: the writer thread does it. The chat is read
    // here all the same, so that the webhook goes to its chat's writer like the others.
    item->channel_id = channel_id.str();
    item->hmac = std::string(hmac_header);
    boost::system::error_code ec;
    json::value doc = json::parse(raw_body, ec);
    const json::object* payload =
        !ec && doc.is_object() ? Obj(doc.as_object(), "payload") : nullptr;
    item->key = EventKey(item->channel_id, payload);
    if (!ec) item->doc = std::move(doc);  // Prepare uses it (`payload` is not used past here)
  }
  std::call_once(writers_started_, [this] {
    for (int i = 0; i < std::max(1, options_.writers); ++i) {
      writers_.push_back(std::make_unique<Writer>());
      Writer* w = writers_.back().get();
      w->thread = std::thread([this, w] { WriterLoop(*w); });
    }
  });
  // A chat's webhooks share a writer.
  const size_t slot = std::hash<std::string>()(item->key) % writers_.size();
  Writer& w = *writers_[slot];
  {
    std::lock_guard lock(w.mu);
    w.queue.push_back(std::move(item));
    if (!w.sleeping) return;
  }
  w.cv.notify_one();
}

void WahaIngest::WriterLoop(Writer& w) {
  core::NameThisThread("waha-ingest");
  std::unique_lock lock(w.mu);
  for (;;) {
    w.sleeping = true;
    w.cv.wait(lock, [&] { return w.stop || !w.queue.empty(); });
    w.sleeping = false;
    if (w.queue.empty()) return;  // stopping, and everything was answered
    // Everything that arrived while the last batch was written goes into one transaction.
    std::vector<std::unique_ptr<Pending>> items;
    while (!w.queue.empty() && items.size() < kMaxAsyncBatch) {
      items.push_back(std::move(w.queue.front()));
      w.queue.pop_front();
    }
    lock.unlock();
    std::vector<Pending*> batch;
    for (auto& item : items) {
      if (!item->prepared) {
        auto channel = GetChannel(crm::ChannelId(item->channel_id));
        if (!channel.ok()) {
          item->status = channel.status();
          continue;
        }
        item->channel_ref = std::make_shared<const crm::Channel>(std::move(channel).value());
        item->channel = item->channel_ref.get();
        item->status = Prepare(*item, item->hmac);
        if (!item->status.ok()) continue;
        item->prepared = true;
      }
      batch.push_back(item.get());
    }
    Status st = batch.empty() ? Status::Ok() : WriteBatchNoThrow(batch);
    // Only the consumers of what was written wake (most consumers have nothing new).
    if (auto types = core::TakeAppendedEventTypes(); !types.empty() && bus_) bus_->Notify(types);
    for (auto& item : items) {
      if (item->prepared && !st.ok()) item->status = st;
      item->done_callback(item->status.ok() ? Result<Stored>(item->out)
                                            : Result<Stored>(item->status));
    }
    lock.lock();
  }
}

WahaIngest::WahaIngest(core::Database& db, const core::Clock& clock,
                       crm::MessagingService& messaging, core::EventBus* bus, core::Logger logger,
                       IngestOptions options)
    : db_(db),
      clock_(clock),
      messaging_(messaging),
      bus_(bus),
      logger_(std::move(logger)),
      options_(options) {}

WahaIngest::~WahaIngest() { Stop(); }

void WahaIngest::Stop() {
  for (auto& w : writers_) {
    if (!w->thread.joinable()) continue;
    {
      std::lock_guard lock(w->mu);
      w->stop = true;
    }
    w->cv.notify_one();
    w->thread.join();
  }
}

void WahaIngest::BacklogStarted() {
  bool was;
  {
    std::lock_guard lock(backlog_mu_);
    ++backlog_generation_;
    was = backlog_.exchange(true);
  }
  if (!was)
    logger_->warn("webhooks are stored for the bus to apply until earlier ones are applied");
}

bool WahaIngest::WaitingRecently(core::Connection& conn) {
  // Only recent ones hold new webhooks back: one the bus gave up on (dead-lettered) stays
  // pending for an operator, and must not turn applying on arrival off for good.
  auto rows =
      conn.Query("SELECT 1 FROM waha_inbox WHERE state = 'pending' AND received_at > $1 LIMIT 1",
                 {DbValue(clock_.NowMillis() - kBacklogWindowMs)});
  return !rows.ok() || !rows->empty();  // unsure counts as waiting
}

bool WahaIngest::Backlog(core::Connection& conn) {
  if (!backlog_.load(std::memory_order_relaxed)) return false;
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t last = backlog_checked_ns_.load(std::memory_order_relaxed);
  if (now - last < std::chrono::nanoseconds(kBacklogRecheck).count()) return true;
  // One writer looks; the others take the answer it leaves.
  if (!backlog_checked_ns_.compare_exchange_strong(last, now)) return true;
  uint64_t generation;
  {
    std::lock_guard lock(backlog_mu_);
    generation = backlog_generation_;
  }
  if (WaitingRecently(conn)) return true;
  std::lock_guard lock(backlog_mu_);
  // A writer that stored pending webhooks meanwhile keeps the flag up.
  if (backlog_generation_ != generation) return true;
  backlog_.store(false, std::memory_order_relaxed);
  if (generation > 0) logger_->info("webhooks are applied on arrival again");
  return false;
}

Status WahaIngest::WriteBatchNoThrow(std::vector<Pending*>& batch) {
  // An exception (out of memory) must neither leave callers waiting nor end a writer thread: it
  // fails this batch (its webhooks answer 500 and WAHA sends them again).
  try {
    return WriteBatch(batch);
  } catch (const std::exception& e) {
    return Status::Internal(fmt::format("storing webhooks failed: {}", e.what()));
  }
}

Status WahaIngest::WriteBatch(std::vector<Pending*>& batch) {
  // Applied in the storing transaction when it can be: nothing is waiting to be applied before
  // these (order per chat), and applying works. Otherwise, or when applying fails, the batch is
  // stored for the bus consumer, as an edge instance does.
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  bool apply = false;
  if (options_.apply_inline) {
    // Once, before any writer applies: webhooks a previous run left pending come first. The
    // other writers wait for this look instead of each taking "unknown" for "pending".
    std::call_once(backlog_looked_, [&] {
      if (WaitingRecently(*conn)) BacklogStarted();
    });
    apply = !Backlog(*conn);
    // Webhooks wait: this writer applies the oldest of them first, so that a steady load does
    // not keep every new webhook behind them (the bus alone may not keep up).
    if (!apply && DrainPending(*conn)) {
      backlog_checked_ns_.store(0, std::memory_order_relaxed);  // look again now
      apply = !Backlog(*conn);
    }
  }
  if (apply) {
    Status st = WriteBatch(*conn, batch, true);
    if (st.ok()) return st;
    logger_->warn("{} webhooks not applied on arrival, stored for the bus: {}", batch.size(),
                  st.ToString());
    for (Pending* p : batch) p->out.duplicate = false;
  }
  Status st = WriteBatch(*conn, batch, false);
  if (st.ok() && options_.apply_inline) BacklogStarted();
  return st;
}

bool WahaIngest::DrainPending(core::Connection& conn) {
  // One writer at a time, oldest first: a chat's webhooks keep their order.
  std::unique_lock drain(drain_mu_, std::try_to_lock);
  if (!drain.owns_lock()) return false;
  auto tx = core::Transaction::Begin(conn);
  if (!tx.ok()) return false;
  auto rows = conn.Query(
      "SELECT id FROM waha_inbox WHERE state = 'pending' AND received_at > $1 "
      "ORDER BY received_at, id LIMIT $2",
      {DbValue(clock_.NowMillis() - kBacklogWindowMs), DbValue(int64_t{kDrainBatch})});
  if (!rows.ok()) return false;
  for (const auto& row : rows->rows) {
    // The bus may apply the same rows: ProcessIn skips what is no longer pending (and on
    // PostgreSQL locks the row first).
    if (Status st = ProcessIn(conn, row.GetText(0)); !st.ok()) {
      logger_->warn("applying waiting webhooks failed, the bus goes on with them: {}",
                    st.ToString());
      return false;  // rolled back
    }
  }
  if (!tx->Commit().ok()) return false;
  if (auto types = core::TakeAppendedEventTypes(); !types.empty() && bus_) bus_->Notify(types);
  return rows->rows.size() < static_cast<size_t>(kDrainBatch);
}

Status WahaIngest::WriteBatch(core::Connection& db, std::vector<Pending*>& batch, bool apply) {
  core::Connection* conn = &db;
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  int64_t now = clock_.NowMillis();
  for (Pending* p : batch) {
    const crm::Channel& channel = *p->channel;
    // Applied rows are stored as processed; the rare other outcome is written after applying.
    VENTROS_ASSIGN_OR_RETURN(
        auto ins,
        conn->Query(
            "INSERT INTO waha_inbox (id, tenant_id, channel_id, envelope_id, event, "
            "dedup_key, body, state, received_at, processed_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            {DbValue(p->out.inbox_id), DbValue(channel.tenant_id.str()), DbValue(channel.id.str()),
             DbValue(p->envelope_id), DbValue(p->event),
             p->dedup ? DbValue(*p->dedup) : DbValue(nullptr), DbValue(std::string(p->body)),
             DbValue(std::string(apply ? "processed" : "pending")), DbValue(now),
             apply ? DbValue(now) : DbValue(nullptr)}));
    if (ins.affected_rows == 0) {
      p->out.duplicate = true;  // stored before (or earlier in this batch): nothing new
      continue;
    }
    if (apply) {
      const json::object* env = p->doc.is_object() ? &p->doc.as_object() : nullptr;
      VENTROS_ASSIGN_OR_RETURN(Applied done,
                               Apply(*conn, channel, p->event, env, p->dedup.has_value()));
      if (done.state != "processed") {
        VENTROS_RETURN_IF_ERROR(Finish(*conn, p->out.inbox_id, done));
      }
      continue;
    }
    core::Event e;
    e.type = kWebhookReceived;
    e.tenant_id = channel.tenant_id.str();
    e.key = p->key;
    e.payload = fmt::format(R"({{"inbox_id":"{}","channel_id":"{}","event":"{}"}})",
                            p->out.inbox_id, channel.id.str(), core::JsonEscape(p->event));
    VENTROS_RETURN_IF_ERROR(core::AppendEvent(*conn, e, clock_));
  }
  return tx.Commit();
}

Status WahaIngest::Process(const std::string& inbox_id) {
  // One write transaction for the whole webhook: read it, apply it, mark it.
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  VENTROS_RETURN_IF_ERROR(ProcessIn(*conn, inbox_id));
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  if (bus_) bus_->Notify();
  return Status::Ok();
}

Status WahaIngest::ProcessBatch(std::span<const core::Event> events) {
  VENTROS_ASSIGN_OR_RETURN(auto conn, db_.Acquire());
  VENTROS_ASSIGN_OR_RETURN(auto tx, core::Transaction::Begin(*conn));
  for (const auto& e : events) {
    boost::system::error_code ec;
    json::value v = json::parse(e.payload, ec);
    if (ec || !v.is_object()) continue;
    std::string inbox_id = Str(v.as_object(), "inbox_id");
    if (inbox_id.empty()) continue;
    // Any failure undoes the whole batch; the bus then retries event by event.
    VENTROS_RETURN_IF_ERROR(ProcessIn(*conn, inbox_id));
  }
  VENTROS_RETURN_IF_ERROR(tx.Commit());
  if (bus_) bus_->Notify();
  return Status::Ok();
}

Status WahaIngest::ProcessIn(core::Connection& conn, const std::string& inbox_id) {
  VENTROS_ASSIGN_OR_RETURN(
      auto rows,
      conn.Query(conn.engine() == core::DbEngine::kPostgres
                     ? "SELECT channel_id, event, body, state FROM waha_inbox WHERE id = $1 "
                       "FOR UPDATE"
                     : "SELECT channel_id, event, body, state FROM waha_inbox WHERE id = $1",
                 {DbValue(inbox_id)}));
  if (rows.empty()) return Status::Ok();  // nothing to do (deleted or never committed)
  std::string state = rows.rows[0].GetText(3);
  if (state != "pending") return Status::Ok();  // processed before: idempotent
  std::string channel_id = rows.rows[0].GetText(0);
  std::string event = rows.rows[0].GetText(1);
  std::string body = rows.rows[0].GetText(2);

  // On the connection in hand: this thread holds the write transaction.
  auto channel = GetChannel(crm::ChannelId(channel_id), &conn);
  if (!channel.ok()) {
    if (channel.status().code() != core::StatusCode::kNotFound) return channel.status();
    return Finish(conn, inbox_id, {"ignored", "channel no longer exists"});
  }
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec);
  const json::object* env = (!ec && doc.is_object()) ? &doc.as_object() : nullptr;
  VENTROS_ASSIGN_OR_RETURN(Applied done, Apply(conn, *channel, event, env));
  return Finish(conn, inbox_id, done);
}

Status WahaIngest::Finish(core::Connection& conn, const std::string& inbox_id,
                          const Applied& done) {
  auto r = conn.Query(
      "UPDATE waha_inbox SET state = $1, error = $2, processed_at = $3 WHERE id = $4",
      {DbValue(done.state), done.reason.empty() ? DbValue(nullptr) : DbValue(done.reason),
       DbValue(clock_.NowMillis()), DbValue(inbox_id)});
  if (!r.ok()) return r.status();
  if (done.state == "failed") {
    logger_->warn("webhook {} not applied: {}", inbox_id, done.reason);
  }
  return Status::Ok();
}

Result<WahaIngest::Applied> WahaIngest::Apply(core::Connection& db, const crm::Channel& channel,
                                              const std::string& event, const json::object* env,
                                              bool admitted_new) {
  core::Connection* conn = &db;
  const json::object* payload = env ? Obj(*env, "payload") : nullptr;
  int64_t envelope_ts = clock_.NowMillis();
  if (env) {
    if (auto ts = Num(*env, "timestamp")) envelope_ts = static_cast<int64_t>(*ts);
  }
  std::string result_state = "processed";
  std::string reason;
  Status st = Status::Ok();
  if (!payload && event != "unknown") {
    result_state = "failed";
    reason = "payload is missing or not an object";
  } else if (event == "message" || event == "message.any") {
    auto parsed = ParseMessageObject(*payload, envelope_ts);
    if (!parsed.ok()) {
      result_state = "failed";
      reason = parsed.status().message();
    } else {
      // A contact's message just admitted by the inbox's unique key on its id cannot exist yet
      // (our own sends, from_me, are matched by that lookup).
      parsed->known_new = admitted_new && !parsed->from_me;
      auto r = messaging_.RecordInbound(*conn, channel, *parsed);
      if (!r.ok()) {
        st = r.status();
      } else if (r->kind == crm::InboundResult::kDuplicate) {
        result_state = "duplicate";
      }
    }
  } else if (event == "message.ack" || event == "message.ack.group") {
    std::string id = Str(*payload, "id");
    auto ack = Num(*payload, "ack");
    if (id.empty() || !ack) {
      result_state = "failed";
      reason = "ack payload needs id and ack";
    } else {
      st = messaging_.RecordAck(*conn, channel, MessagingService::BareMessageId(id),
                                static_cast<int>(*ack));
    }
  } else if (event == "message.reaction") {
    const json::object* reaction = Obj(*payload, "reaction");
    std::string target = reaction ? Str(*reaction, "messageId") : "";
    if (target.empty()) {
      result_state = "failed";
      reason = "reaction payload needs reaction.messageId";
    } else {
      std::string sender = Str(*payload, "participant");
      if (sender.empty()) sender = Str(*payload, "from");
      st = messaging_.RecordReaction(*conn, channel, MessagingService::BareMessageId(target),
                                     MessagingService::NormalizeWaId(sender),
                                     Str(*reaction, "text"));
    }
  } else if (event == "message.revoked" || event == "message.edited") {
    bool revoked = event == "message.revoked";
    std::string target = Str(*payload, revoked ? "revokedMessageId" : "editedMessageId");
    for (const char* side : {"before", "after"}) {
      if (!target.empty()) break;
      if (const json::object* o = Obj(*payload, side)) target = Str(*o, "id");
    }
    if (target.empty()) {
      result_state = "failed";
      reason = fmt::format("{} payload does not name the message", event);
    } else if (revoked) {
      st = messaging_.RecordRevoke(*conn, channel, MessagingService::BareMessageId(target),
                                   envelope_ts);
    } else {
      std::string text = Str(*payload, "body");
      if (text.empty()) {
        if (const json::object* after = Obj(*payload, "after")) text = Str(*after, "body");
      }
      st = messaging_.RecordEdit(*conn, channel, MessagingService::BareMessageId(target), text,
                                 envelope_ts);
    }
  } else if (event == "session.status") {
    std::string status = Str(*payload, "status");
    if (status.empty()) {
      result_state = "failed";
      reason = "session.status payload has no status";
    } else {
      st = messaging_.SetChannelStatus(*conn, channel, status);
    }
  } else {
    result_state = "ignored";
    reason = fmt::format("event '{}' is stored but not interpreted", event);
  }

  if (!st.ok()) {
    if (st.code() == core::StatusCode::kNotFound) {
      // Refers to a message we never saw (before our time, or another channel): keep the record.
      result_state = "ignored";
      reason = st.message();
    } else {
      return st;  // rolled back; the bus retries
    }
  }
  return Applied{result_state, reason};
}

std::shared_ptr<const crm::Channel> WahaIngest::CachedChannel(const crm::ChannelId& id) {
  int64_t now = clock_.NowMillis();
  std::lock_guard lock(cache_mu_);
  auto it = channels_.find(id.str());
  if (it != channels_.end() && now - it->second.second < kChannelCacheMs) return it->second.first;
  return nullptr;
}

Result<crm::Channel> WahaIngest::GetChannel(const crm::ChannelId& id, core::Connection* conn) {
  if (auto cached = CachedChannel(id)) return *cached;
  auto channel = conn ? messaging_.GetChannelById(*conn, id) : messaging_.GetChannelById(id);
  if (!channel.ok()) return channel;
  std::lock_guard lock(cache_mu_);
  if (channels_.size() > 10000) channels_.clear();
  channels_[id.str()] = {std::make_shared<const crm::Channel>(*channel), clock_.NowMillis()};
  return channel;
}

core::EventHandler WahaIngest::Handler() {
  return [this](const core::Event& e) -> Status {
    boost::system::error_code ec;
    json::value v = json::parse(e.payload, ec);
    if (ec || !v.is_object()) return Status::Ok();  // not ours to fix; nothing to retry
    std::string inbox_id = Str(v.as_object(), "inbox_id");
    if (inbox_id.empty()) return Status::Ok();
    return Process(inbox_id);
  };
}

core::EventBatchHandler WahaIngest::BatchHandler() {
  return [this](std::span<const core::Event> events) { return ProcessBatch(events); };
}

// ---------------------------------------------------------------- outbound

core::EventHandler WahaSender::Handler() {
  return [this](const core::Event& e) { return Send(e); };
}

Status WahaSender::Send(const core::Event& e) {
  boost::system::error_code ec;
  json::value v = json::parse(e.payload, ec);
  if (ec || !v.is_object()) return Status::Ok();
  std::string id = Str(v.as_object(), "id");
  crm::TenantId tenant(e.tenant_id);
  auto msg = messaging_.GetMessage(tenant, crm::MessageId(id));
  if (!msg.ok()) {
    return msg.status().code() == core::StatusCode::kNotFound ? Status::Ok() : msg.status();
  }
  // Only a queued message is sent. "sending" means an earlier attempt may have reached WAHA
  // (we crashed or timed out): never send it blindly again; the message.any echo settles it.
  if (msg->status != "queued") return Status::Ok();
  auto channel = messaging_.GetChannel(tenant, msg->channel_id);
  if (!channel.ok()) {
    if (channel.status().code() == core::StatusCode::kNotFound) {
      return messaging_.MarkFailed(tenant, msg->id, "the channel was deleted");
    }
    return channel.status();
  }
  WahaTarget target{channel->waha_url, channel->waha_api_key, channel->waha_session};
  if (options_.humanize) {
    (void)gateway_.SendSeen(target, msg->chat_id, {});
    (void)gateway_.StartTyping(target, msg->chat_id);
    std::this_thread::sleep_for(options_.typing_delay);
    (void)gateway_.StopTyping(target, msg->chat_id);
  }
  // Claim it: of two senders (two instances, a replayed event) only one calls WAHA.
  VENTROS_ASSIGN_OR_RETURN(bool claimed, messaging_.ClaimForSend(tenant, msg->id));
  if (!claimed) return Status::Ok();
  SendTextRequest req;
  req.chat_id = msg->chat_id;
  req.text = msg->body;
  req.reply_to = msg->reply_to;
  auto outcome = gateway_.SendText(target, req);
  if (outcome.ok()) {
    if (outcome->kind == SendOutcome::kSent) {
      // Without an id in the answer, the message.any echo fills it in later.
      return messaging_.MarkSent(tenant, msg->id, outcome->waha_message_id);
    }
    // No answer: it may or may not have gone out. WAHA's message.any echo will tell.
    return messaging_.SetSendStatus(tenant, msg->id, "unknown",
                                    "outcome unknown; waiting for WAHA's echo");
  }
  const Status& err = outcome.status();
  if (err.code() == core::StatusCode::kUnavailable &&
      msg->send_attempts + 1 < options_.send_max_attempts) {
    // Certainly not sent (422, 5xx, refused): queue it again and let the bus back off.
    VENTROS_RETURN_IF_ERROR(messaging_.SetSendStatus(tenant, msg->id, "queued", err.message()));
    return err;
  }
  logger_->warn("message {} failed: {}", msg->id.str(), err.ToString());
  return messaging_.MarkFailed(tenant, msg->id, err.message());
}

// ---------------------------------------------------------------- media

core::EventHandler MediaDownloader::Handler() {
  return [this](const core::Event& e) -> Status {
    // Most messages carry no media: they are passed over without parsing. A download to do always
    // has the string "pending" in the payload (PostgreSQL's JSONB adds spaces around ':', so
    // only the value is looked for; a body "pending" merely costs the parse below).
    if (e.payload.find(R"("pending")") == std::string::npos) return Status::Ok();
    boost::system::error_code ec;
    json::value v = json::parse(e.payload, ec);
    if (ec || !v.is_object()) return Status::Ok();
    const json::object& o = v.as_object();
    const json::object* media = Obj(o, "media");
    if (!media || Str(*media, "state") != "pending") return Status::Ok();
    crm::TenantId tenant(e.tenant_id);
    crm::MessageId id(Str(o, "id"));
    auto msg = messaging_.GetMessage(tenant, id);
    if (!msg.ok())
      return msg.status().code() == core::StatusCode::kNotFound ? Status::Ok() : msg.status();
    if (msg->media.state != "pending" || !msg->media.url) return Status::Ok();
    auto channel = messaging_.GetChannel(tenant, msg->channel_id);
    crm::Media result = msg->media;
    if (!channel.ok()) {
      result.state = "failed";
      result.error = "channel no longer exists";
      return messaging_.RecordMediaResult(tenant, id, result);
    }
    WahaTarget target{channel->waha_url, channel->waha_api_key, channel->waha_session};
    auto bytes = gateway_.DownloadMedia(target, *msg->media.url, options_.media_max_bytes);
    if (!bytes.ok()) {
      if (bytes.status().code() == core::StatusCode::kUnavailable &&
          clock_.NowMillis() - msg->created_at < kGiveUpAfterMs) {
        return bytes.status();  // retry with backoff
      }
      // Gone (WAHA deletes files after a few minutes), too large, forbidden: record, stop.
      result.state = "failed";
      result.error = bytes.status().message();
      return messaging_.RecordMediaResult(tenant, id, result);
    }
    std::string sha = core::Sha256Hex(*bytes);
    std::filesystem::path dir = std::filesystem::path(options_.media_dir) / sha.substr(0, 2);
    std::filesystem::path path = dir / sha;
    std::error_code fec;
    std::filesystem::create_directories(dir, fec);
    if (!std::filesystem::exists(path)) {
      // Write then rename, so a crash never leaves a partial file under the final name.
      std::filesystem::path tmp = path;
      tmp += ".tmp" + core::RandomHex(4);
      {
        std::ofstream out(tmp, std::ios::binary);
        out.write(bytes->data(), static_cast<std::streamsize>(bytes->size()));
        if (!out) return Status::Unavailable(fmt::format("cannot write {}", tmp.string()));
      }
      std::filesystem::rename(tmp, path, fec);
      if (fec)
        return Status::Unavailable(
            fmt::format("cannot store {}: {}", path.string(), fec.message()));
    }
    result.state = "stored";
    result.path = path.string();
    result.size = static_cast<int64_t>(bytes->size());
    result.sha256 = sha;
    result.error.reset();
    return messaging_.RecordMediaResult(tenant, id, result);
  };
}

// ---------------------------------------------------------------- @lid

core::EventHandler LidResolver::Handler() {
  return [this](const core::Event& e) -> Status {
    boost::system::error_code ec;
    json::value v = json::parse(e.payload, ec);
    if (ec || !v.is_object()) return Status::Ok();
    crm::TenantId tenant(e.tenant_id);
    auto contact = messaging_.GetContact(tenant, crm::ContactId(Str(v.as_object(), "contact_id")));
    if (!contact.ok()) {
      return contact.status().code() == core::StatusCode::kNotFound ? Status::Ok()
                                                                    : contact.status();
    }
    if (contact->phone) return Status::Ok();
    std::string lid;
    for (const auto& id : contact->wa_ids) {
      if (id.ends_with("@lid")) lid = id;
    }
    if (lid.empty()) return Status::Ok();
    auto channel = messaging_.GetChannel(tenant, crm::ChannelId(Str(v.as_object(), "channel_id")));
    if (!channel.ok()) return Status::Ok();
    WahaTarget target{channel->waha_url, channel->waha_api_key, channel->waha_session};
    auto pn = gateway_.GetLidMapping(target, lid);
    if (!pn.ok()) {
      // WAHA down: try again later; anything else (no such lid, forbidden) will not improve.
      if (pn.status().code() == core::StatusCode::kUnavailable) return pn.status();
      logger_->info("no phone for {}: {}", lid, pn.status().ToString());
      return Status::Ok();
    }
    if (!pn->has_value()) return Status::Ok();  // WAHA does not know it (yet)
    auto linked = messaging_.LinkWaId(tenant, contact->id, **pn);
    return linked.ok() ? Status::Ok() : linked.status();
  };
}

// ---------------------------------------------------------------- route

void RegisterWahaRoutes(core::Router& router, WahaIngest& ingest) {
  router.AddAsync(
      "POST", "/webhooks/waha/{channel_id}",
      [&ingest](core::HttpRequest& req, core::Responder respond) {
        ingest.Submit(
            crm::ChannelId(req.PathParam("channel_id")), req.body, req.Header("X-Webhook-Hmac"),
            [respond = std::move(respond),
             request_id = req.request_id](Result<WahaIngest::Stored> stored) {
              if (!stored.ok()) {
                if (stored.status().code() == core::StatusCode::kInvalidArgument) {
                  respond(core::HttpResponse::Error(400, "invalid_json", stored.status().message(),
                                                    request_id));
                } else {
                  respond(core::HttpResponse::FromStatus(stored.status(), request_id));
                }
                return;
              }
              respond(core::HttpResponse::Json(
                  200, stored->duplicate ? R"({"status":"duplicate"})" : R"({"status":"stored"})"));
            });
      },
      {.summary = "WAHA webhook: stored durably, then processed"});
}

}  // namespace ventros::waha

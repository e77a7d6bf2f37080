#include "engine/storage/wt_env.h"

#include <cerrno>
#include <cstring>

namespace phalanx::storage {

WtSession::~WtSession() {
  // Closing the session closes its cursors too.
  if (session_ != nullptr) session_->close(session_, nullptr);
}

Result<WT_CURSOR*> WtSession::Cursor(const std::string& uri, CursorMode mode, WtEnv& env) {
  for (const Cached& c : cursors_) {
    if (c.mode == mode && c.uri == uri) return c.cursor;
  }
  WT_CURSOR* cursor = nullptr;
  const char* config = mode == CursorMode::kNoOverwrite ? "overwrite=false" : nullptr;
  int r = session_->open_cursor(session_, uri.c_str(), nullptr, config, &cursor);
  if (r != 0) return env.WtStatus(r, "open cursor on " + uri);
  cursors_.push_back({uri, mode, cursor});
  return cursor;
}

Result<WT_CURSOR*> WtSession::KvCursor(const std::string& uri, CursorMode mode, WtEnv& env) {
  if (kv_uri_ != uri) {
    if (!kv_uri_.empty()) CloseCursors(kv_uri_);
    kv_uri_ = uri;
  }
  return Cursor(uri, mode, env);
}

void WtSession::CloseCursors(std::string_view uri) {
  for (auto it = cursors_.begin(); it != cursors_.end();) {
    if (it->uri == uri) {
      it->cursor->close(it->cursor);
      it = cursors_.erase(it);
    } else {
      ++it;
    }
  }
}

void WtSession::ResetCursors() {
  for (Cached& c : cursors_)
    c.cursor->reset(c.cursor);
}

WtEnv::WtEnv(Token, std::string home, MessageSink sink, FaultInjector faults)
    : home_(std::move(home)), sink_(std::move(sink)), faults_(std::move(faults)) {
  handler_ = std::make_unique<EventHandler>();
  handler_->wt = WT_EVENT_HANDLER{};
  handler_->wt.handle_error = &WtEnv::HandleError;
  handler_->wt.handle_message = &WtEnv::HandleMessage;
  handler_->env = this;
}

Result<std::unique_ptr<WtEnv>> WtEnv::Open(const std::string& home, const std::string& config,
                                           MessageSink sink, FaultInjector faults,
                                           bool* needs_recovery) {
  auto env = std::make_unique<WtEnv>(Token(), home, std::move(sink), std::move(faults));
  WT_CONNECTION* conn = nullptr;
  int r = wiredtiger_open(home.c_str(), &env->handler_->wt, config.c_str(), &conn);
  if (r != 0) {
    if (needs_recovery != nullptr) {
      std::lock_guard<std::mutex> l(env->err_mu_);
      *needs_recovery = env->saw_run_recovery_ || r == WT_RUN_RECOVERY;
    }
    return env->WtStatus(r, "open WiredTiger database at " + home);
  }
  env->conn_ = conn;
  return env;
}

WtEnv::~WtEnv() {
  if (conn_ != nullptr && wt_io_error_.load()) {
    if (sink_)
      sink_("not closing WiredTiger after an I/O failure (it could hang); exit the process");
    // Sessions and cursors stay with the connection; the handler stays too,
    // detached from this object.
    for (auto& s : idle_)
      (void)s.release();  // NOLINT: deliberately leaked with the connection
    idle_.clear();
    std::lock_guard<std::mutex> l(handler_->mu);
    handler_->env = nullptr;
    (void)handler_.release();  // NOLINT: deliberately leaked with the connection
    return;
  }
  idle_.clear();  // close every pooled session before the connection
  if (conn_ != nullptr) conn_->close(conn_, nullptr);
}

WtEnv::Lease::~Lease() {
  if (s_) env_->Release(std::move(s_));
}

Result<WtEnv::Lease> WtEnv::Acquire() {
  {
    std::lock_guard<std::mutex> l(pool_mu_);
    if (!idle_.empty()) {
      std::unique_ptr<WtSession> s = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(s));
    }
  }
  WT_SESSION* s = nullptr;
  // No cursor caching inside WiredTiger: we cache cursors ourselves, and a
  // closed cursor must really let go of its table so the table can be dropped.
  int r = conn_->open_session(conn_, nullptr, "cache_cursors=false", &s);
  if (r != 0) return WtStatus(r, "open session");
  return Lease(this, std::make_unique<WtSession>(s));
}

void WtEnv::Release(std::unique_ptr<WtSession> s) {
  // A session may only go back idle with no transaction open; WtTxn ensures
  // that. Reset its cursors so they do not pin pages or old versions.
  s->ResetCursors();
  std::lock_guard<std::mutex> l(pool_mu_);
  idle_.push_back(std::move(s));
}

void WtEnv::PurgeCursors(std::string_view uri) {
  std::lock_guard<std::mutex> l(pool_mu_);
  for (auto& s : idle_)
    s->CloseCursors(uri);
}

int WtEnv::HandleError(WT_EVENT_HANDLER* h, WT_SESSION*, int error, const char* message) {
  auto* eh = reinterpret_cast<EventHandler*>(h);
  std::lock_guard<std::mutex> l(eh->mu);
  if (eh->env != nullptr) eh->env->OnError(error, message);
  return 0;
}

int WtEnv::HandleMessage(WT_EVENT_HANDLER* h, WT_SESSION*, const char* message) {
  auto* eh = reinterpret_cast<EventHandler*>(h);
  std::lock_guard<std::mutex> l(eh->mu);
  if (eh->env != nullptr) eh->env->OnMessage(message);
  return 0;
}

void WtEnv::OnError(int error, const char* message) {
  std::string text = message != nullptr ? message : "";
  {
    std::lock_guard<std::mutex> l(err_mu_);
    // EBUSY comes from expected, retried drops of tables still in use.
    if (error == EBUSY) return;
    if (error == WT_RUN_RECOVERY) saw_run_recovery_ = true;
    if (error == WT_PANIC || error == ENOSPC || error == EIO || error == EDQUOT) {
      wt_io_error_.store(true);
    }
    if (first_wt_error_.empty()) first_wt_error_ = text;
    last_wt_error_ = text;
    if (hold_messages_) {
      held_.push_back(std::move(text));
      return;
    }
  }
  if (sink_) sink_(text);
}

void WtEnv::OnMessage(const char* message) {
  std::string text = message != nullptr ? message : "";
  {
    std::lock_guard<std::mutex> l(err_mu_);
    if (hold_messages_) {
      held_.push_back(std::move(text));
      return;
    }
  }
  if (sink_) sink_(text);
}

void WtEnv::ReleaseMessages() {
  std::vector<std::string> held;
  {
    std::lock_guard<std::mutex> l(err_mu_);
    hold_messages_ = false;
    held.swap(held_);
  }
  if (sink_) {
    for (const std::string& m : held)
      sink_(m);
  }
}

void WtEnv::ClearErrors() {
  std::lock_guard<std::mutex> l(err_mu_);
  first_wt_error_.clear();
  last_wt_error_.clear();
}

Status WtEnv::WtStatus(int ret, std::string_view what) {
  std::string detail;
  {
    std::lock_guard<std::mutex> l(err_mu_);
    detail = first_wt_error_;
    first_wt_error_.clear();
    last_wt_error_.clear();
  }
  // WiredTiger prefixes "[time][pid:thread], " to its messages: drop that.
  while (!detail.empty() && detail[0] == '[') {
    size_t end = detail.find(']');
    if (end == std::string::npos) break;
    detail.erase(0, end + 1);
  }
  if (detail.rfind(", ", 0) == 0) detail.erase(0, 2);
  std::string msg(what);
  msg += ": ";
  msg += wiredtiger_strerror(ret);
  if (!detail.empty()) {
    msg += " (";
    msg += detail;
    msg += ")";
  }
  if (ret == WT_NOTFOUND) return Status::NotFound(std::move(msg));
  if (ret == EBUSY) return Status::Busy(std::move(msg));
  for (const char* sign :
       {"checksum", "corrupt", "does not appear to be a WiredTiger file",
        "unable to read root page", "turtle file read error", "No such file or directory"}) {
    if (detail.find(sign) != std::string::npos) return Status::Corruption(std::move(msg));
  }
  return Status::IoError(std::move(msg));
}

Status WtEnv::CheckWritable() const {
  if (!failed()) return Status::Ok();
  std::lock_guard<std::mutex> l(err_mu_);
  return Status::Error(Status::Code::kFailed,
                       "store refuses writes after an earlier write error: " + failure_.ToString());
}

Status WtEnv::Fail(Status cause) {
  {
    std::lock_guard<std::mutex> l(err_mu_);
    if (!failed_.load(std::memory_order_relaxed)) {
      failure_ = cause;
      failed_.store(true, std::memory_order_release);
    }
  }
  if (sink_) sink_("storage entering fail-stop mode: " + cause.ToString());
  {
    // Wake durability waiters so they see the failure.
    std::lock_guard<std::mutex> l(flush_mu_);
    flush_cv_.notify_all();
  }
  return cause;
}

uint64_t WtEnv::NoteCommitted() {
  std::lock_guard<std::mutex> l(flush_mu_);
  return ++commit_seq_;
}

Status WtEnv::WaitDurable(uint64_t ticket, WT_SESSION* s) {
  durable_waits_.fetch_add(1, std::memory_order_relaxed);
  std::unique_lock<std::mutex> l(flush_mu_);
  while (durable_seq_ < ticket) {
    if (failed()) {
      l.unlock();
      return CheckWritable();
    }
    if (flushing_) {
      flush_cv_.wait(l);
      continue;
    }
    // Lead a flush for everyone committed so far: every ticket <= target was
    // handed out after its transaction committed, so its log record is
    // already in the log that log_flush forces to disk.
    flushing_ = true;
    uint64_t target = commit_seq_;
    l.unlock();
    int r = Inject("log.flush");
    if (r == 0) r = s->log_flush(s, "sync=on");
    Status st = r == 0 ? Status::Ok() : WtStatus(r, "flush the WiredTiger log to disk");
    l.lock();
    flushing_ = false;
    if (!st.ok()) {
      flush_cv_.notify_all();
      l.unlock();
      return Fail(st);
    }
    if (target > durable_seq_) durable_seq_ = target;
    flushes_.fetch_add(1, std::memory_order_relaxed);
    flush_cv_.notify_all();
  }
  return Status::Ok();
}

}  // namespace phalanx::storage

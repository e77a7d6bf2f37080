// WtEnv: one WiredTiger connection and what every table user shares — a pool
// of sessions, the group-commit queue, the fail-stop switch and error text.
// Internal to engine/storage; the public face is store.h.
//
// WiredTiger rules this class enforces: the connection is shared by all
// threads; a session (and its cursors) is used by one thread at a time, so
// callers borrow a whole session through a Lease and give it back.
#pragma once

#include <wiredtiger.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/storage/status.h"

namespace phalanx::storage {

// Called with a site name ("log.commit", "log.flush", "kv.commit",
// "snapshot.write", "snapshot.checkpoint", "meta.commit"); returns an errno
// value to fail that step with (as if WiredTiger had returned it), or 0.
using FaultInjector = std::function<int(std::string_view site)>;
// Receives WiredTiger's error and informational messages, one line each.
using MessageSink = std::function<void(std::string_view line)>;

class WtEnv;

// A WiredTiger session and the cursors it keeps open. One thread at a time.
class WtSession {
 public:
  enum class CursorMode : uint8_t {
    kOverwrite,    // insert replaces, update inserts, remove of a missing key succeeds
    kNoOverwrite,  // insert: WT_DUPLICATE_KEY; update/remove of a missing key: WT_NOTFOUND
  };

  explicit WtSession(WT_SESSION* session) : session_(session) {}
  ~WtSession();
  WtSession(const WtSession&) = delete;
  WtSession& operator=(const WtSession&) = delete;

  WT_SESSION* get() const { return session_; }
  // A reset cursor on `uri`, opened on first use and kept for the next. The
  // cursor stays owned by this session.
  Result<WT_CURSOR*> Cursor(const std::string& uri, CursorMode mode, WtEnv& env);
  // Closes the cached cursors on `uri` (so the table can be dropped).
  void CloseCursors(std::string_view uri);
  // A cursor on a KV table generation. A session keeps cursors on one
  // generation at a time: asking for another closes those on the previous
  // one, so an old generation can be dropped.
  Result<WT_CURSOR*> KvCursor(const std::string& uri, CursorMode mode, WtEnv& env);
  // Resets every cached cursor, letting go of pinned pages and snapshots.
  void ResetCursors();

 private:
  struct Cached {
    std::string uri;
    CursorMode mode;
    WT_CURSOR* cursor;
  };
  WT_SESSION* session_;
  std::vector<Cached> cursors_;
  std::string kv_uri_;
};

class WtEnv {
 public:
  // Opens (or with "create" in `config`, creates) the database at `home`.
  // On failure, *needs_recovery tells whether WiredTiger refused only
  // because a read-only open found recovery to run.
  static Result<std::unique_ptr<WtEnv>> Open(const std::string& home, const std::string& config,
                                             MessageSink sink, FaultInjector faults,
                                             bool* needs_recovery = nullptr);
  // Use Open(); the token keeps construction private.
  struct Token {
   private:
    Token() = default;
    friend class WtEnv;
  };
  WtEnv(Token, std::string home, MessageSink sink, FaultInjector faults);
  // Closes all sessions, then the connection (which checkpoints). After
  // WiredTiger itself hit an I/O error (a full disk, a panic) closing can
  // hang forever in 3.2.1 (the final checkpoint retries its log write), so
  // then the connection is deliberately left open: the process is expected
  // to exit (fail-stop), and the database reopens with recovery.
  ~WtEnv();
  WtEnv(const WtEnv&) = delete;
  WtEnv& operator=(const WtEnv&) = delete;

  // A borrowed session; returned to the pool on destruction.
  class Lease {
   public:
    Lease(WtEnv* env, std::unique_ptr<WtSession> s) : env_(env), s_(std::move(s)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    WtSession* operator->() const { return s_.get(); }
    WtSession& operator*() const { return *s_; }

   private:
    WtEnv* env_;
    std::unique_ptr<WtSession> s_;
  };
  Result<Lease> Acquire();
  // Makes idle pooled sessions close their cursors on `uri`.
  void PurgeCursors(std::string_view uri);

  WT_CONNECTION* connection() const { return conn_; }
  // While held back, WiredTiger's messages are kept instead of going to the
  // sink: Store::Open reports one error (the Status) rather than a stream of
  // WiredTiger lines, and forwards them only once the open succeeded.
  void ReleaseMessages();
  const std::string& home() const { return home_; }

  // --- errors and fail-stop ---
  // A Status for WiredTiger's return code `ret` from operation `what`, with
  // the first message WiredTiger reported since the last WtStatus() (the
  // root cause; a panic that follows it is only a consequence). WT_NOTFOUND → kNotFound; checksum
  // or corruption reports → kCorruption; anything else → kIoError.
  Status WtStatus(int ret, std::string_view what);
  // Forgets captured WiredTiger messages after an error that was expected.
  void ClearErrors();
  // kFailed once any write has failed, Ok otherwise.
  Status CheckWritable() const;
  // Enters fail-stop mode (first cause wins) and returns `cause`.
  Status Fail(Status cause);
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  // The errno a test asked to inject at `site`, or 0.
  int Inject(std::string_view site) const { return faults_ ? faults_(site) : 0; }

  // --- group commit ---
  // Call right after a transaction committed (without sync): returns a ticket
  // that WaitDurable() turns into a durability guarantee.
  uint64_t NoteCommitted();
  // Returns once every transaction whose ticket is <= `ticket` is on stable
  // storage. Concurrent waiters share flushes: one of them runs log_flush
  // (sync=on) on its own session `s` (which must not be in a transaction) for
  // everyone committed so far; the others wait. A flush error fails the store.
  Status WaitDurable(uint64_t ticket, WT_SESSION* s);
  // Counters for tests and benchmarks.
  uint64_t flush_count() const { return flushes_.load(std::memory_order_relaxed); }
  uint64_t durable_wait_count() const { return durable_waits_.load(std::memory_order_relaxed); }

 private:
  void Release(std::unique_ptr<WtSession> s);
  void OnError(int error, const char* message);
  void OnMessage(const char* message);
  static int HandleError(WT_EVENT_HANDLER* h, WT_SESSION* s, int error, const char* message);
  static int HandleMessage(WT_EVENT_HANDLER* h, WT_SESSION* s, const char* message);

  // Standard layout with the WiredTiger struct first, so a handler pointer
  // WiredTiger hands back can be turned into ours. Heap-allocated so it can
  // outlive this object when the connection is left open; `env` is cleared
  // (under `mu`) before this object goes away.
  struct EventHandler {
    WT_EVENT_HANDLER wt;
    std::mutex mu;
    WtEnv* env;
  };

  const std::string home_;
  const MessageSink sink_;
  const FaultInjector faults_;
  std::unique_ptr<EventHandler> handler_;
  WT_CONNECTION* conn_ = nullptr;

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<WtSession>> idle_;

  mutable std::mutex err_mu_;
  std::string first_wt_error_;            // guarded by err_mu_
  std::string last_wt_error_;             // guarded by err_mu_
  bool saw_run_recovery_ = false;         // guarded by err_mu_
  std::atomic<bool> wt_io_error_{false};  // WiredTiger reported a panic or an I/O error
  bool hold_messages_ = true;             // guarded by err_mu_
  std::vector<std::string> held_;         // guarded by err_mu_
  std::atomic<bool> failed_{false};
  Status failure_;  // guarded by err_mu_

  std::mutex flush_mu_;
  std::condition_variable flush_cv_;
  uint64_t commit_seq_ = 0;   // guarded by flush_mu_
  uint64_t durable_seq_ = 0;  // guarded by flush_mu_
  bool flushing_ = false;     // guarded by flush_mu_
  std::atomic<uint64_t> flushes_{0};
  std::atomic<uint64_t> durable_waits_{0};
};

// Helpers for the byte-string tables (key_format=u,value_format=u).
inline WT_ITEM Item(std::string_view s) {
  WT_ITEM it{};
  it.data = s.data();
  it.size = s.size();
  return it;
}
inline std::string_view View(const WT_ITEM& it) {
  return {static_cast<const char*>(it.data), it.size};
}

// Rolls back an open transaction unless Commit() was called.
class WtTxn {
 public:
  explicit WtTxn(WT_SESSION* s) : s_(s) {}
  ~WtTxn() {
    if (open_) s_->rollback_transaction(s_, nullptr);
  }
  WtTxn(const WtTxn&) = delete;
  WtTxn& operator=(const WtTxn&) = delete;
  int Begin(const char* config = nullptr) {
    int r = s_->begin_transaction(s_, config);
    open_ = r == 0;
    return r;
  }
  // Whatever the outcome, the transaction is over afterwards.
  int Commit() {
    open_ = false;
    return s_->commit_transaction(s_, nullptr);
  }
  void Rollback() {
    if (open_) s_->rollback_transaction(s_, nullptr);
    open_ = false;
  }

 private:
  WT_SESSION* s_;
  bool open_ = false;
};

}  // namespace phalanx::storage

#include "engine/storage/kv_store.h"

#include <cerrno>
#include <cmath>
#include <utility>

#include "engine/storage/coding.h"
#include "engine/storage/read_cache.h"
#include "engine/storage/tables.h"
#include "engine/storage/value.h"
#include "engine/storage/wt_env.h"
#include "util/string2ll.h"

namespace phalanx::storage {

using consensus::Entry;
using consensus::EntryType;

namespace {

constexpr uint64_t kMaxValueBytes = 512ull << 20;  // Redis's proto-max-bulk-len
constexpr int kGenRetries = 4;

}  // namespace

KvStore::KvStore(Token, WtEnv* env, const Options& options) : env_(env), options_(options) {
  if (options.read_cache_mb > 0) cache_ = std::make_unique<ReadCache>(options.read_cache_mb << 20);
}

KvStore::~KvStore() = default;

// ------------------------------------------------------------------ meta ----

std::string KvStore::EncodeMeta(const Meta& m) {
  std::string v;
  coding::PutFixed64BE(&v, m.applied);
  coding::PutFixed64BE(&v, m.term);
  coding::PutFixed64BE(&v, m.gen);
  coding::PutFixed64BE(&v, m.count);
  tables::PutConfState(&v, m.conf);
  return v;
}

bool KvStore::DecodeMeta(std::string_view in, Meta* m) {
  return coding::GetFixed64BE(&in, &m->applied) && coding::GetFixed64BE(&in, &m->term) &&
         coding::GetFixed64BE(&in, &m->gen) && coding::GetFixed64BE(&in, &m->count) &&
         tables::GetConfState(&in, &m->conf) && in.empty();
}

Status KvStore::Load(WtSession& s) {
  auto cur = s.Cursor(tables::kKvMeta, WtSession::CursorMode::kOverwrite, *env_);
  if (!cur.ok()) return cur.status();
  WT_CURSOR* c = cur.value();
  WT_ITEM k = Item(tables::kAppliedKey);
  c->set_key(c, &k);
  Meta m;
  int r = c->search(c);
  if (r == 0) {
    WT_ITEM v;
    if ((r = c->get_value(c, &v)) != 0) return env_->WtStatus(r, "read kv_meta");
    if (!DecodeMeta(View(v), &m)) {
      c->reset(c);
      return Status::Corruption("kv_meta.wt: malformed applied-state record");
    }
  } else if (r != WT_NOTFOUND) {
    return env_->WtStatus(r, "read kv_meta");
  }
  c->reset(c);
  Publish(m);
  if (m.gen > max_gen_.load()) max_gen_.store(m.gen);
  return Status::Ok();
}

Status KvStore::PutMeta(WtSession& s, const Meta& m) {
  auto cur = s.Cursor(tables::kKvMeta, WtSession::CursorMode::kOverwrite, *env_);
  if (!cur.ok()) return cur.status();
  WT_CURSOR* c = cur.value();
  std::string v = EncodeMeta(m);
  WT_ITEM k = Item(tables::kAppliedKey), vi = Item(v);
  c->set_key(c, &k);
  c->set_value(c, &vi);
  int r = c->insert(c);
  c->reset(c);
  if (r != 0) return env_->WtStatus(r, "write kv_meta");
  return Status::Ok();
}

KvStore::Meta KvStore::meta() const {
  std::lock_guard<std::mutex> l(meta_mu_);
  return meta_;
}

void KvStore::Publish(const Meta& m) {
  std::lock_guard<std::mutex> l(meta_mu_);
  meta_ = m;
  key_count_.store(m.count, std::memory_order_release);
  live_gen_.store(m.gen, std::memory_order_release);
  applied_index_.store(m.applied, std::memory_order_release);
}

uint64_t KvStore::applied_term() const {
  std::lock_guard<std::mutex> l(meta_mu_);
  return meta_.term;
}

consensus::ConfState KvStore::conf_state() const {
  std::lock_guard<std::mutex> l(meta_mu_);
  return meta_.conf;
}

std::string KvStore::LiveUri() const {
  return tables::KvUri(live_gen_.load(std::memory_order_acquire));
}

Result<uint64_t> KvStore::NewGeneration() {
  auto lease = env_->Acquire();
  if (!lease.ok()) return lease.status();
  WT_SESSION* s = lease.value()->get();
  for (int attempt = 0; attempt < 16; ++attempt) {
    uint64_t gen = max_gen_.fetch_add(1) + 1;
    std::string config = std::string(tables::kKvTableConfig) + ",exclusive=true";
    int r = s->create(s, tables::KvUri(gen).c_str(), config.c_str());
    if (r == 0) return gen;
    if (r != EEXIST) return env_->WtStatus(r, "create table " + tables::KvUri(gen));
    // A leftover of a crash that was not dropped yet: take the next number.
    env_->ClearErrors();
  }
  return Status::IoError("could not create a new KV table generation");
}

// ----------------------------------------------------------------- apply ----

// Executes commands inside one open transaction on the live KV table.
class KvStore::Applier {
 public:
  Applier(KvStore* kv, WtSession* s, Meta* meta) : kv_(kv), s_(s), meta_(meta) {}

  Status Open() { return SwitchTo(meta_->gen); }

  // An I/O error, or the command's result.
  Result<ApplyResult> Execute(const CommandView& cmd) {
    now_ = cmd.now_ms;
    switch (cmd.op) {
      case CommandOp::kSet:
        return DoSet(cmd);
      case CommandOp::kDel:
        return DoDel(cmd);
      case CommandOp::kIncrBy:
        return DoIncrBy(cmd);
      case CommandOp::kAppend:
        return DoAppend(cmd);
      case CommandOp::kMSet:
        return DoMSet(cmd, false);
      case CommandOp::kMSetNx:
        return DoMSet(cmd, true);
      case CommandOp::kExpire:
        return DoExpire(cmd);
      case CommandOp::kPersist:
        return DoPersist(cmd);
      case CommandOp::kFlushAll:
        return DoFlushAll();
      case CommandOp::kPurgeExpired:
        return DoPurge(cmd);
      case CommandOp::kGetDel:
        return DoGetDel(cmd);
      case CommandOp::kGetEx:
        return DoGetEx(cmd);
      case CommandOp::kIncrByFloat:
        return DoIncrByFloat(cmd);
      case CommandOp::kSetRange:
        return DoSetRange(cmd);
    }
    return ApplyResult::Error("ERR unknown command op");
  }

  void Reset() { c_->reset(c_); }
  // Keys written so far (pointing into the entries' data), and whether a
  // FLUSHALL ran: what the read cache must forget.
  const std::vector<std::string_view>& touched() const { return touched_; }
  bool flushed() const { return flushed_; }

 private:
  struct Current {
    bool exists = false;  // physically stored (maybe expired)
    bool live = false;    // stored and not expired at now_
    int64_t expiry = 0;
    std::string value;
  };

  Status SwitchTo(uint64_t gen) {
    auto cur = s_->KvCursor(tables::KvUri(gen), WtSession::CursorMode::kNoOverwrite, *kv_->env_);
    if (!cur.ok()) return cur.status();
    c_ = cur.value();
    return Status::Ok();
  }

  Status Lookup(std::string_view key, Current* cur) {
    StoredKey sk(key);
    WT_ITEM k = sk.item();
    c_->set_key(c_, &k);
    int r = c_->search(c_);
    if (r == WT_NOTFOUND) {
      *cur = Current{};
      return Status::Ok();
    }
    WT_ITEM v;
    if (r != 0 || (r = c_->get_value(c_, &v)) != 0) return kv_->env_->WtStatus(r, "read KV");
    ValueView vv;
    if (!DecodeValue(View(v), &vv)) return Status::Corruption("KV table: malformed value record");
    cur->exists = true;
    cur->expiry = vv.expiry_ms;
    cur->live = !IsExpired(vv.expiry_ms, now_);
    cur->value.assign(vv.payload);
    return Status::Ok();
  }

  // Writes key := (expiry, payload). `exists`: whether the key is stored now.
  Status Put(std::string_view key, int64_t expiry, std::string_view payload, bool exists) {
    touched_.push_back(key);
    EncodeValue(expiry, payload, &buf_);
    StoredKey sk(key);
    WT_ITEM k = sk.item(), v = Item(buf_);
    c_->set_key(c_, &k);
    c_->set_value(c_, &v);
    int r = exists ? c_->update(c_) : c_->insert(c_);
    if (r != 0) return kv_->env_->WtStatus(r, "write KV");
    if (!exists) ++meta_->count;
    return Status::Ok();
  }

  // Put for a key whose presence is unknown: insert, or update if it exists.
  Status Upsert(std::string_view key, int64_t expiry, std::string_view payload) {
    touched_.push_back(key);
    EncodeValue(expiry, payload, &buf_);
    StoredKey sk(key);
    WT_ITEM k = sk.item(), v = Item(buf_);
    c_->set_key(c_, &k);
    c_->set_value(c_, &v);
    int r = c_->insert(c_);
    if (r == WT_DUPLICATE_KEY) {
      c_->set_key(c_, &k);
      c_->set_value(c_, &v);
      r = c_->update(c_);
    } else if (r == 0) {
      ++meta_->count;
    }
    if (r != 0) return kv_->env_->WtStatus(r, "write KV");
    return Status::Ok();
  }

  Status Remove(std::string_view key) {
    touched_.push_back(key);
    StoredKey sk(key);
    WT_ITEM k = sk.item();
    c_->set_key(c_, &k);
    int r = c_->remove(c_);
    if (r == WT_NOTFOUND) return Status::Ok();
    if (r != 0) return kv_->env_->WtStatus(r, "remove KV");
    --meta_->count;
    return Status::Ok();
  }

  Result<ApplyResult> DoSet(const CommandView& cmd) {
    std::string_view key = cmd.args[0], value = cmd.args[1];
    if (cmd.flags == 0) {
      // The common case needs no read: insert, or update what is there.
      Status st =
          IsExpired(cmd.expire_at_ms, now_) ? Remove(key) : Upsert(key, cmd.expire_at_ms, value);
      if (!st.ok()) return st;
      return ApplyResult::Ok();
    }
    Current cur;
    Status st = Lookup(key, &cur);
    if (!st.ok()) return st;
    bool get = cmd.flags & kSetGet;
    ApplyResult old = cur.live ? ApplyResult::Bulk(cur.value) : ApplyResult::Nil();
    if ((cmd.flags & kSetNx) && cur.live) return get ? old : ApplyResult::Nil();
    if (!(cmd.flags & kSetNx) && (cmd.flags & kSetXx) && !cur.live) return ApplyResult::Nil();
    int64_t expiry = (cmd.flags & kSetKeepTtl) ? (cur.live ? cur.expiry : 0) : cmd.expire_at_ms;
    st = IsExpired(expiry, now_) ? Remove(key) : Put(key, expiry, value, cur.exists);
    if (!st.ok()) return st;
    return get ? old : ApplyResult::Ok();
  }

  Result<ApplyResult> DoDel(const CommandView& cmd) {
    int64_t n = 0;
    Current cur;
    for (std::string_view key : cmd.args) {
      Status st = Lookup(key, &cur);
      if (!st.ok()) return st;
      if (!cur.exists) continue;
      if ((st = Remove(key)); !st.ok()) return st;
      if (cur.live) ++n;
    }
    return ApplyResult::Integer(n);
  }

  Result<ApplyResult> DoIncrBy(const CommandView& cmd) {
    std::string_view key = cmd.args[0];
    Current cur;
    Status st = Lookup(key, &cur);
    if (!st.ok()) return st;
    int64_t v = 0;
    if (cur.live && !util::StringToInt64(cur.value, &v)) {
      return ApplyResult::Error(std::string(kErrNotInteger));
    }
    int64_t out;
    if (__builtin_add_overflow(v, cmd.delta, &out)) {
      return ApplyResult::Error(std::string(kErrOverflow));
    }
    st = Put(key, cur.live ? cur.expiry : 0, std::to_string(out), cur.exists);
    if (!st.ok()) return st;
    return ApplyResult::Integer(out);
  }

  Result<ApplyResult> DoAppend(const CommandView& cmd) {
    std::string_view key = cmd.args[0], value = cmd.args[1];
    Current cur;
    Status st = Lookup(key, &cur);
    if (!st.ok()) return st;
    std::string next = cur.live ? std::move(cur.value) : std::string();
    if (next.size() + value.size() > kMaxValueBytes) {
      return ApplyResult::Error(std::string(kErrStringTooLong));
    }
    next.append(value);
    st = Put(key, cur.live ? cur.expiry : 0, next, cur.exists);
    if (!st.ok()) return st;
    return ApplyResult::Integer(static_cast<int64_t>(next.size()));
  }

  Result<ApplyResult> DoMSet(const CommandView& cmd, bool nx) {
    if (nx) {
      Current cur;
      for (size_t i = 0; i < cmd.args.size(); i += 2) {
        Status st = Lookup(cmd.args[i], &cur);
        if (!st.ok()) return st;
        if (cur.live) return ApplyResult::Integer(0);
      }
    }
    for (size_t i = 0; i < cmd.args.size(); i += 2) {
      Status st = Upsert(cmd.args[i], 0, cmd.args[i + 1]);
      if (!st.ok()) return st;
    }
    return nx ? ApplyResult::Integer(1) : ApplyResult::Ok();
  }

  Result<ApplyResult> DoExpire(const CommandView& cmd) {
    std::string_view key = cmd.args[0];
    Current cur;
    Status st = Lookup(key, &cur);
    if (!st.ok()) return st;
    if (!cur.live) return ApplyResult::Integer(0);
    bool has_ttl = cur.expiry != 0;
    int64_t at = cmd.expire_at_ms;
    if ((cmd.flags & kExpireNx) && has_ttl) return ApplyResult::Integer(0);
    if ((cmd.flags & kExpireXx) && !has_ttl) return ApplyResult::Integer(0);
    // No expiry counts as an infinite one for GT and LT.
    if ((cmd.flags & kExpireGt) && (!has_ttl || at <= cur.expiry)) return ApplyResult::Integer(0);
    if ((cmd.flags & kExpireLt) && has_ttl && at >= cur.expiry) return ApplyResult::Integer(0);
    st = IsExpired(at, now_) || at == 0 ? Remove(key) : Put(key, at, cur.value, true);
    if (!st.ok()) return st;
    return ApplyResult::Integer(1);
  }

  Result<ApplyResult> DoPersist(const CommandView& cmd) {
    std::string_view key = cmd.args[0];
    Current cur;
    Status st = Lookup(key, &cur);
    if (!st.ok()) return st;
    if (!cur.live || cur.expiry == 0) return ApplyResult::Integer(0);
    if ((st = Put(key, 0, cur.value, true)); !st.ok()) return st;
    return ApplyResult::Integer(1);
  }

  Result<ApplyResult> DoFlushAll() {
    // Switch to a new, empty table generation: O(1) whatever the data size,
    // and no giant transaction. The old table is dropped later (GC).
    c_->reset(c_);
    flushed_ = true;
    auto gen = kv_->NewGeneration();
    if (!gen.ok()) return gen.status();
    meta_->gen = gen.value();
    meta_->count = 0;
    Status st = SwitchTo(meta_->gen);
    if (!st.ok()) return st;
    return ApplyResult::Ok();
  }

  Result<ApplyResult> DoPurge(const CommandView& cmd) {
    int64_t n = 0;
    Current cur;
    for (std::string_view key : cmd.args) {
      Status st = Lookup(key, &cur);
      if (!st.ok()) return st;
      if (!cur.exists || cur.live) continue;
      if ((st = Remove(key)); !st.ok()) return st;
      ++n;
    }
    return ApplyResult::Integer(n);
  }

  Result<ApplyResult> DoGetDel(const CommandView& cmd) {
    std::string_view key = cmd.args[0];
    Current cur;
    Status st = Lookup(key, &cur);
    if (!st.ok()) return st;
    // An expired leftover is removed too: it is gone for readers anyway.
    if (cur.exists) {
      if ((st = Remove(key)); !st.ok()) return st;
    }
    return cur.live ? ApplyResult::Bulk(std::move(cur.value)) : ApplyResult::Nil();
  }

  Result<ApplyResult> DoGetEx(const CommandView& cmd) {
    std::string_view key = cmd.args[0];
    Current cur;
    Status st = Lookup(key, &cur);
    if (!st.ok()) return st;
    if (!cur.live) return ApplyResult::Nil();
    if (cmd.flags & kGetExSetExpiry) {
      // EXAT/PXAT in the past delete the key, after replying its value (Redis).
      st = IsExpired(cmd.expire_at_ms, now_) ? Remove(key)
                                             : Put(key, cmd.expire_at_ms, cur.value, true);
    } else if ((cmd.flags & kGetExPersist) && cur.expiry != 0) {
      st = Put(key, 0, cur.value, true);
    }
    if (!st.ok()) return st;
    return ApplyResult::Bulk(std::move(cur.value));
  }

  Result<ApplyResult> DoIncrByFloat(const CommandView& cmd) {
    std::string_view key = cmd.args[0];
    long double incr, v = 0;
    // The proposer checked the increment; a hand-made entry still gets Redis's error.
    if (!ParseLongDouble(cmd.args[1], &incr)) return ApplyResult::Error(std::string(kErrNotFloat));
    Current cur;
    Status st = Lookup(key, &cur);
    if (!st.ok()) return st;
    if (cur.live && !ParseLongDouble(cur.value, &v)) {
      return ApplyResult::Error(std::string(kErrNotFloat));
    }
    v += incr;
    if (std::isnan(v) || std::isinf(v)) return ApplyResult::Error(std::string(kErrNanOrInf));
    std::string out = FormatLongDouble(v);
    // Like INCR, the key keeps its expiry.
    st = Put(key, cur.live ? cur.expiry : 0, out, cur.exists);
    if (!st.ok()) return st;
    return ApplyResult::Bulk(std::move(out));
  }

  Result<ApplyResult> DoSetRange(const CommandView& cmd) {
    std::string_view key = cmd.args[0], value = cmd.args[1];
    const int64_t offset = cmd.delta;
    if (offset < 0) return ApplyResult::Error(std::string(kErrOffsetRange));
    Current cur;
    Status st = Lookup(key, &cur);
    if (!st.ok()) return st;
    std::string next = cur.live ? std::move(cur.value) : std::string();
    // An empty value changes nothing, and creates no key (Redis replies 0).
    if (value.empty()) return ApplyResult::Integer(static_cast<int64_t>(next.size()));
    if (static_cast<uint64_t>(offset) > kMaxValueBytes ||
        static_cast<uint64_t>(offset) + value.size() > kMaxValueBytes) {
      return ApplyResult::Error(std::string(kErrStringTooLong));
    }
    const size_t off = static_cast<size_t>(offset);
    if (next.size() < off + value.size()) next.resize(off + value.size(), '\0');
    next.replace(off, value.size(), value);
    st = Put(key, cur.live ? cur.expiry : 0, next, cur.exists);
    if (!st.ok()) return st;
    return ApplyResult::Integer(static_cast<int64_t>(next.size()));
  }

  KvStore* kv_;
  WtSession* s_;
  Meta* meta_;
  WT_CURSOR* c_ = nullptr;
  int64_t now_ = 0;
  std::string buf_;
  std::vector<std::string_view> touched_;
  bool flushed_ = false;
};

Result<std::vector<ApplyResult>> KvStore::Apply(
    const std::vector<Entry>& entries, const std::optional<consensus::ConfState>& conf_state) {
  std::lock_guard<std::mutex> apply_lock(apply_mu_);
  Status st = env_->CheckWritable();
  if (!st.ok()) return st;
  Meta m = meta();
  size_t i = 0;
  while (i < entries.size() && entries[i].index <= m.applied)
    ++i;
  std::vector<ApplyResult> results;
  if (i == entries.size()) return results;
  if (entries[i].index != m.applied + 1) {
    return Status::InvalidArgument("apply of index " + std::to_string(entries[i].index) +
                                   " leaves a gap after the applied index " +
                                   std::to_string(m.applied));
  }
  for (size_t j = i + 1; j < entries.size(); ++j) {
    if (entries[j].index != entries[i].index + (j - i)) {
      return Status::InvalidArgument("entries to apply are not contiguous at index " +
                                     std::to_string(entries[j].index));
    }
  }
  results.reserve(entries.size() - i);

  auto lease = env_->Acquire();
  if (!lease.ok()) return lease.status();
  WtSession& s = *lease.value();
  CommandView cmd;
  while (i < entries.size()) {
    // One transaction per slice of at most max_apply_txn_bytes of entry data.
    WtTxn txn(s.get());
    int r = txn.Begin();
    if (r != 0) return env_->Fail(env_->WtStatus(r, "begin apply transaction"));
    Applier applier(this, &s, &m);
    if ((st = applier.Open()); !st.ok()) return env_->Fail(st);
    uint64_t bytes = 0;
    do {
      const Entry& e = entries[i];
      if (e.type == EntryType::kNormal && !e.data.empty()) {
        Status dec = DecodeCommand(e.data, &cmd);
        if (!dec.ok()) {
          results.push_back(ApplyResult::Error("ERR corrupt command: " + dec.message()));
        } else {
          auto res = applier.Execute(cmd);
          if (!res.ok()) return env_->Fail(res.status());
          results.push_back(std::move(res).value());
        }
      } else {
        results.push_back(ApplyResult::Ok());
      }
      m.applied = e.index;
      m.term = e.term;
      bytes += e.data.size();
      ++i;
    } while (i < entries.size() && bytes < options_.max_apply_txn_bytes);
    applier.Reset();
    if (i == entries.size() && conf_state) m.conf = *conf_state;
    if ((st = PutMeta(s, m)); !st.ok()) return env_->Fail(st);
    // The read cache forgets the written keys before the commit and may
    // cache them again only after the new state is published.
    if (cache_) cache_->BeginInvalidate(applier.touched(), applier.flushed());
    r = env_->Inject("kv.commit");
    if (r == 0) {
      r = txn.Commit();
    } else {
      txn.Rollback();
    }
    if (r == 0) Publish(m);
    if (cache_) cache_->EndInvalidate(applier.touched(), applier.flushed());
    if (r != 0) return env_->Fail(env_->WtStatus(r, "commit apply transaction"));
  }
  return results;
}

// ----------------------------------------------------------------- reads ----

namespace {

// Runs `fn(cursor)` on a read cursor of the live KV generation. A FLUSHALL or
// snapshot install may replace the generation (and GC drop the old table)
// between reading the generation number and opening the cursor: retry then.
template <typename Fn>
auto WithKvCursor(WtEnv* env, const std::atomic<uint64_t>& live_gen, WtSession& s, Fn fn)
    -> decltype(fn(static_cast<WT_CURSOR*>(nullptr))) {
  Status last;
  for (int attempt = 0; attempt < kGenRetries; ++attempt) {
    uint64_t gen = live_gen.load(std::memory_order_acquire);
    auto cur = s.KvCursor(tables::KvUri(gen), WtSession::CursorMode::kOverwrite, *env);
    if (!cur.ok()) {
      last = cur.status();
      if (live_gen.load(std::memory_order_acquire) != gen) continue;
      return last;
    }
    WT_CURSOR* c = cur.value();
    auto out = fn(c);
    c->reset(c);
    return out;
  }
  return last;
}

// Reads `key` at cursor c: *exists, and its expiry and payload (if `value`).
Status ReadRecord(WtEnv* env, WT_CURSOR* c, std::string_view key, bool* exists, int64_t* expiry,
                  std::string* value) {
  StoredKey sk(key);
  WT_ITEM k = sk.item();
  c->set_key(c, &k);
  int r = c->search(c);
  *exists = false;
  if (r == WT_NOTFOUND) return Status::Ok();
  WT_ITEM v;
  if (r != 0 || (r = c->get_value(c, &v)) != 0) return env->WtStatus(r, "read KV");
  ValueView vv;
  if (!DecodeValue(View(v), &vv)) return Status::Corruption("KV table: malformed value record");
  *exists = true;
  *expiry = vv.expiry_ms;
  if (value != nullptr) value->assign(vv.payload);
  return Status::Ok();
}

// As ReadRecord, but a key expired at now_ms counts as missing (*found).
Status ReadValue(WtEnv* env, WT_CURSOR* c, std::string_view key, int64_t now_ms, bool* found,
                 int64_t* expiry, std::string* value) {
  bool exists;
  Status st = ReadRecord(env, c, key, &exists, expiry, value);
  *found = st.ok() && exists && !IsExpired(*expiry, now_ms);
  return st;
}

// A single-key read through the read cache (if any). `read_wt(&exists,
// &expiry, value)` reads WiredTiger; it must load the live generation itself,
// after the cache lookup here (see read_cache.h: the ticket taken first is
// what rejects values read from a table that a FLUSHALL or install replaced).
template <typename ReadWt>
Status CachedRead(ReadCache* cache, std::string_view key, int64_t now_ms, bool* found,
                  int64_t* expiry, std::string* value, ReadWt read_wt) {
  ReadCache::Ticket ticket;
  if (cache != nullptr && cache->Lookup(key, expiry, value, &ticket)) {
    *found = !IsExpired(*expiry, now_ms);
    return Status::Ok();
  }
  std::string scratch;
  std::string* into = value != nullptr ? value : &scratch;
  bool exists = false;
  Status st = read_wt(&exists, expiry, cache != nullptr ? into : value);
  if (!st.ok()) return st;
  if (exists && cache != nullptr) cache->Insert(key, *expiry, *into, ticket);
  *found = exists && !IsExpired(*expiry, now_ms);
  return Status::Ok();
}

}  // namespace

Result<std::optional<std::string>> KvStore::Get(std::string_view key, int64_t now_ms) const {
  bool found = false;
  int64_t expiry = 0;
  std::string value;
  // A session is borrowed only on a cache miss.
  Status st = CachedRead(cache_.get(), key, now_ms, &found, &expiry, &value,
                         [&](bool* exists, int64_t* exp, std::string* v) -> Status {
                           auto lease = env_->Acquire();
                           if (!lease.ok()) return lease.status();
                           return WithKvCursor(env_, live_gen_, *lease.value(), [&](WT_CURSOR* c) {
                             return ReadRecord(env_, c, key, exists, exp, v);
                           });
                         });
  if (!st.ok()) return st;
  if (!found) return std::optional<std::string>();
  return std::optional<std::string>(std::move(value));
}

Result<std::vector<std::optional<std::string>>> KvStore::MGet(const std::vector<std::string>& keys,
                                                              int64_t now_ms) const {
  auto lease = env_->Acquire();
  if (!lease.ok()) return lease.status();
  WtSession& s = *lease.value();
  using Out = Result<std::vector<std::optional<std::string>>>;
  return WithKvCursor(env_, live_gen_, s, [&](WT_CURSOR* c) -> Out {
    WtTxn txn(s.get());
    int r = txn.Begin("isolation=snapshot");
    if (r != 0) return env_->WtStatus(r, "begin read transaction");
    std::vector<std::optional<std::string>> out;
    out.reserve(keys.size());
    for (const std::string& key : keys) {
      bool found;
      int64_t expiry;
      std::string value;
      Status st = ReadValue(env_, c, key, now_ms, &found, &expiry, &value);
      if (!st.ok()) return st;
      out.push_back(found ? std::optional<std::string>(std::move(value)) : std::nullopt);
    }
    c->reset(c);
    txn.Rollback();  // read-only
    return out;
  });
}

Result<int64_t> KvStore::Exists(const std::vector<std::string>& keys, int64_t now_ms) const {
  auto lease = env_->Acquire();
  if (!lease.ok()) return lease.status();
  WtSession& s = *lease.value();
  return WithKvCursor(env_, live_gen_, s, [&](WT_CURSOR* c) -> Result<int64_t> {
    WtTxn txn(s.get());
    int r = txn.Begin("isolation=snapshot");
    if (r != 0) return env_->WtStatus(r, "begin read transaction");
    int64_t n = 0;
    for (const std::string& key : keys) {
      bool found;
      int64_t expiry;
      Status st = ReadValue(env_, c, key, now_ms, &found, &expiry, nullptr);
      if (!st.ok()) return st;
      if (found) ++n;
    }
    c->reset(c);
    txn.Rollback();
    return n;
  });
}

Result<int64_t> KvStore::PTtl(std::string_view key, int64_t now_ms) const {
  bool found = false;
  int64_t expiry = 0;
  Status st = CachedRead(cache_.get(), key, now_ms, &found, &expiry, nullptr,
                         [&](bool* exists, int64_t* exp, std::string* v) -> Status {
                           auto lease = env_->Acquire();
                           if (!lease.ok()) return lease.status();
                           return WithKvCursor(env_, live_gen_, *lease.value(), [&](WT_CURSOR* c) {
                             return ReadRecord(env_, c, key, exists, exp, v);
                           });
                         });
  if (!st.ok()) return st;
  if (!found) return int64_t{-2};
  if (expiry == 0) return int64_t{-1};
  return expiry - now_ms;
}

Result<KvStore::ScanPage> KvStore::Scan(std::string_view cursor, size_t count,
                                        int64_t now_ms) const {
  if (count == 0) count = 1;
  auto lease = env_->Acquire();
  if (!lease.ok()) return lease.status();
  return WithKvCursor(env_, live_gen_, *lease.value(), [&](WT_CURSOR* c) -> Result<ScanPage> {
    ScanPage page;
    int r;
    if (cursor.empty()) {
      r = c->next(c);
    } else {
      StoredKey sk(cursor);
      WT_ITEM k = sk.item();
      c->set_key(c, &k);
      int exact = 0;
      r = c->search_near(c, &exact);
      if (r == 0 && exact <= 0) r = c->next(c);
    }
    size_t examined = 0;
    std::string last;
    for (; r == 0; r = c->next(c)) {
      WT_ITEM k, v;
      if ((r = c->get_key(c, &k)) != 0 || (r = c->get_value(c, &v)) != 0) break;
      std::string_view user;
      ValueView vv;
      if (!UserKey(View(k), &user) || !DecodeValue(View(v), &vv)) {
        return Status::Corruption("KV table: malformed record");
      }
      std::string key(user);
      if (IsExpired(vv.expiry_ms, now_ms)) {
        page.expired_keys.push_back(key);
      } else {
        page.keys.push_back(key);
      }
      last = std::move(key);
      if (++examined == count) break;
    }
    if (r != 0 && r != WT_NOTFOUND) return env_->WtStatus(r, "scan KV");
    // Done when the table ran out; otherwise continue after the last key.
    page.cursor = r == WT_NOTFOUND ? std::string() : std::move(last);
    return page;
  });
}

// ---------------------------------------------------------------- reader ----

struct KvReader::Impl {
  Impl(const KvStore* kv, WtEnv::Lease lease) : kv(kv), lease(std::move(lease)) {}
  const KvStore* kv;
  WtEnv::Lease lease;
  uint64_t gen = 0;
  WT_CURSOR* cursor = nullptr;
};

KvReader::KvReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KvReader::~KvReader() = default;

Result<std::unique_ptr<KvReader>> KvStore::NewReader() const {
  auto lease = env_->Acquire();
  if (!lease.ok()) return lease.status();
  return std::make_unique<KvReader>(
      std::make_unique<KvReader::Impl>(this, std::move(lease).value()));
}

Result<bool> KvReader::Get(std::string_view key, int64_t now_ms, std::string* value) {
  Impl& im = *impl_;
  WtEnv* env = im.kv->env_;
  auto read_wt = [&](bool* exists, int64_t* expiry, std::string* v) -> Status {
    Status last;
    for (int attempt = 0; attempt < kGenRetries; ++attempt) {
      uint64_t gen = im.kv->live_gen_.load(std::memory_order_acquire);
      if (gen != im.gen || im.cursor == nullptr) {
        im.cursor = nullptr;
        auto cur = im.lease->KvCursor(tables::KvUri(gen), WtSession::CursorMode::kOverwrite, *env);
        if (!cur.ok()) {
          last = cur.status();
          if (im.kv->live_gen_.load(std::memory_order_acquire) != gen) continue;
          return last;
        }
        im.cursor = cur.value();
        im.gen = gen;
      }
      Status st = ReadRecord(env, im.cursor, key, exists, expiry, v);
      im.cursor->reset(im.cursor);
      return st;
    }
    return last;
  };
  bool found = false;
  int64_t expiry = 0;
  Status st = CachedRead(im.kv->cache_.get(), key, now_ms, &found, &expiry, value, read_wt);
  if (!st.ok()) return st;
  return found;
}

Result<std::optional<std::string>> KvReader::Get(std::string_view key, int64_t now_ms) {
  std::string value;
  auto r = Get(key, now_ms, &value);
  if (!r.ok()) return r.status();
  if (!r.value()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(value));
}

}  // namespace phalanx::storage

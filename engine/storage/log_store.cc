#include "engine/storage/log_store.h"

#include <algorithm>
#include <mutex>

#include "engine/storage/coding.h"
#include "engine/storage/kv_store.h"
#include "engine/storage/tables.h"
#include "engine/storage/wt_env.h"

namespace phalanx::storage {

using consensus::Entry;
using consensus::EntryType;
using consensus::HardState;

namespace {

constexpr size_t kRecordHeader = 9;  // term (8) + type (1)

void EncodeRecord(const Entry& e, std::string* out) {
  out->clear();
  out->reserve(kRecordHeader + e.data.size());
  coding::PutFixed64BE(out, e.term);
  out->push_back(static_cast<char>(e.type));
  out->append(e.data.str());
}

bool DecodeRecord(uint64_t index, std::string_view v, Entry* e) {
  if (v.size() < kRecordHeader) return false;
  uint8_t type = static_cast<uint8_t>(v[8]);
  if (type > static_cast<uint8_t>(EntryType::kConfChange)) return false;
  e->index = index;
  e->term = coding::DecodeFixed64BE(v.data());
  e->type = static_cast<EntryType>(type);
  e->data = std::string(v.substr(kRecordHeader));
  return true;
}

uint64_t StoredBytes(const Entry& e) {
  return 8 + kRecordHeader + e.data.size();
}

consensus::Result<uint64_t> ToConsensusTerm(Result<uint64_t> r) {
  if (r.ok()) return r.value();
  return r.status().ToConsensus();
}

Status Compacted(uint64_t i) {
  return Status::Error(Status::Code::kCompacted,
                       "log index " + std::to_string(i) + " is compacted");
}
Status Unavailable(uint64_t i) {
  return Status::Error(Status::Code::kUnavailable,
                       "log index " + std::to_string(i) + " is not yet available");
}

}  // namespace

LogStore::LogStore(Token, WtEnv* env, const Options& options, const KvStore* kv)
    : env_(env), options_(options), kv_(kv) {}

LogStore::~LogStore() = default;

// ---------------------------------------------------------------- loading --

Status LogStore::Load(WtSession& s) {
  std::unique_lock<std::shared_mutex> l(mu_);
  auto state = s.Cursor(tables::kRaftState, WtSession::CursorMode::kOverwrite, *env_);
  if (!state.ok()) return state.status();
  WT_CURSOR* c = state.value();
  WT_ITEM k = Item(tables::kHardStateKey);
  c->set_key(c, &k);
  int r = c->search(c);
  if (r == 0) {
    WT_ITEM v;
    if ((r = c->get_value(c, &v)) != 0) return env_->WtStatus(r, "read hard state");
    std::string_view in = View(v);
    if (!coding::GetFixed64BE(&in, &hard_state_.term) ||
        !coding::GetFixed64BE(&in, &hard_state_.vote) ||
        !coding::GetFixed64BE(&in, &hard_state_.commit)) {
      return Status::Corruption("raft_state.wt: malformed hard state record");
    }
  } else if (r != WT_NOTFOUND) {
    return env_->WtStatus(r, "read hard state");
  }
  k = Item(tables::kLogStartKey);
  c->set_key(c, &k);
  r = c->search(c);
  if (r == 0) {
    WT_ITEM v;
    if ((r = c->get_value(c, &v)) != 0) return env_->WtStatus(r, "read log start");
    std::string_view in = View(v);
    if (!coding::GetFixed64BE(&in, &start_index_) || !coding::GetFixed64BE(&in, &start_term_)) {
      return Status::Corruption("raft_state.wt: malformed log start record");
    }
  } else if (r != WT_NOTFOUND) {
    return env_->WtStatus(r, "read log start");
  }
  c->reset(c);

  auto snap = s.Cursor(tables::kSnapshotMeta, WtSession::CursorMode::kOverwrite, *env_);
  if (!snap.ok()) return snap.status();
  c = snap.value();
  k = Item(tables::kCurrentKey);
  c->set_key(c, &k);
  r = c->search(c);
  if (r == 0) {
    WT_ITEM v;
    if ((r = c->get_value(c, &v)) != 0) return env_->WtStatus(r, "read snapshot metadata");
    std::string_view in = View(v);
    uint8_t slot;
    if (!coding::GetFixed64BE(&in, &snapshot_.meta.index) ||
        !coding::GetFixed64BE(&in, &snapshot_.meta.term) ||
        !coding::GetFixed64BE(&in, &snapshot_.gen) || !coding::GetByte(&in, &slot) ||
        !tables::GetConfState(&in, &snapshot_.meta.conf_state)) {
      return Status::Corruption("snapshot_meta.wt: malformed snapshot record");
    }
    snapshot_.slot = slot;
  } else if (r != WT_NOTFOUND) {
    return env_->WtStatus(r, "read snapshot metadata");
  }
  c->reset(c);

  // The log itself: its last index, byte size, and the newest entries.
  // Entries at or below the log start are leftovers of an interrupted
  // compaction: invisible, counted in log_bytes_ until CompactLog removes them.
  auto logc = s.Cursor(tables::kRaftLog, WtSession::CursorMode::kOverwrite, *env_);
  if (!logc.ok()) return logc.status();
  c = logc.value();
  last_index_ = start_index_;
  log_bytes_ = 0;
  uint64_t expect = start_index_ + 1;
  while ((r = c->next(c)) == 0) {
    WT_ITEM key, v;
    if ((r = c->get_key(c, &key)) != 0 || (r = c->get_value(c, &v)) != 0) break;
    if (key.size != 8) return Status::Corruption("raft_log.wt: malformed key");
    uint64_t index = coding::DecodeFixed64BE(static_cast<const char*>(key.data));
    log_bytes_ += 8 + v.size;
    if (index <= start_index_) continue;
    if (index != expect) {
      return Status::Corruption("raft_log.wt: hole in the log: expected index " +
                                std::to_string(expect) + ", found " + std::to_string(index));
    }
    ++expect;
    last_index_ = index;
  }
  if (r != WT_NOTFOUND) return env_->WtStatus(r, "scan raft_log");
  c->reset(c);

  // Warm the tail cache.
  cache_.clear();
  cache_bytes_ = 0;
  uint64_t n = std::min<uint64_t>(options_.log_cache_entries, last_index_ - start_index_);
  if (n > 0) {
    uint64_t bytes = 0;
    auto entries = ReadRange(last_index_ + 1 - n, last_index_ + 1, UINT64_MAX, &bytes);
    if (!entries.ok()) return entries.status();
    for (Entry& e : entries.value()) {
      cache_bytes_ += e.ByteSize();
      cache_.push_back(std::move(e));
    }
    TrimCache();
  }
  return Status::Ok();
}

// --------------------------------------------------------------- reads ------

consensus::InitialState LogStore::GetInitialState() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return {hard_state_, kv_->conf_state()};
}

uint64_t LogStore::FirstIndex() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return start_index_ + 1;
}

uint64_t LogStore::LastIndex() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return last_index_;
}

HardState LogStore::hard_state() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return hard_state_;
}

uint64_t LogStore::log_bytes() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return log_bytes_;
}

consensus::SnapshotMetadata LogStore::snapshot_metadata() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return snapshot_.meta;
}

consensus::Result<consensus::Snapshot> LogStore::GetSnapshot() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  consensus::Snapshot s;
  s.metadata = snapshot_.meta;
  return s;
}

consensus::Result<uint64_t> LogStore::Term(uint64_t i) const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return ToConsensusTerm(TermLocked(i));
}

Result<uint64_t> LogStore::TermLocked(uint64_t i) const {
  if (i < start_index_) return Compacted(i);
  if (i == start_index_) return start_term_;
  if (i > last_index_) return Unavailable(i);
  uint64_t cache_first = last_index_ + 1 - cache_.size();
  if (!cache_.empty() && i >= cache_first) return cache_[i - cache_first].term;
  uint64_t bytes = 0;
  auto e = ReadRange(i, i + 1, 0, &bytes);
  if (!e.ok()) return e.status();
  return e.value().front().term;
}

consensus::Result<std::vector<Entry>> LogStore::Entries(uint64_t lo, uint64_t hi,
                                                        uint64_t max_bytes) const {
  std::shared_lock<std::shared_mutex> l(mu_);
  if (lo <= start_index_) return Compacted(lo).ToConsensus();
  if (hi > last_index_ + 1) return Unavailable(hi - 1).ToConsensus();
  std::vector<Entry> out;
  if (lo >= hi) return out;
  uint64_t cache_first = last_index_ + 1 - cache_.size();
  uint64_t bytes = 0;
  if (lo < cache_first) {
    uint64_t disk_hi = std::min(hi, cache_first);
    auto disk = ReadRange(lo, disk_hi, max_bytes, &bytes);
    if (!disk.ok()) return disk.status().ToConsensus();
    out = std::move(disk).value();
    if (out.size() < disk_hi - lo) return out;  // stopped by max_bytes
    lo = disk_hi;
  }
  for (uint64_t i = lo; i < hi; ++i) {
    const Entry& e = cache_[i - cache_first];
    bytes += e.ByteSize();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

Result<std::vector<Entry>> LogStore::ReadRange(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                                               uint64_t* bytes) const {
  auto lease = env_->Acquire();
  if (!lease.ok()) return lease.status();
  auto cur = lease.value()->Cursor(tables::kRaftLog, WtSession::CursorMode::kOverwrite, *env_);
  if (!cur.ok()) return cur.status();
  WT_CURSOR* c = cur.value();
  std::string key = tables::IndexKey(lo);
  WT_ITEM k = Item(key);
  c->set_key(c, &k);
  std::vector<Entry> out;
  int r = c->search(c);
  for (uint64_t i = lo; i < hi; ++i) {
    if (i > lo) r = c->next(c);
    if (r != 0) break;
    WT_ITEM kk, v;
    if ((r = c->get_key(c, &kk)) != 0 || (r = c->get_value(c, &v)) != 0) break;
    if (kk.size != 8 || coding::DecodeFixed64BE(static_cast<const char*>(kk.data)) != i) {
      c->reset(c);
      return Status::Corruption("raft_log.wt: hole in the log at index " + std::to_string(i));
    }
    Entry e;
    if (!DecodeRecord(i, View(v), &e)) {
      c->reset(c);
      return Status::Corruption("raft_log.wt: malformed entry at index " + std::to_string(i));
    }
    *bytes += e.ByteSize();
    if (!out.empty() && *bytes > max_bytes) break;
    out.push_back(std::move(e));
  }
  c->reset(c);
  if (r == WT_NOTFOUND) {
    return Status::Corruption("raft_log.wt: missing entry at index " +
                              std::to_string(lo + out.size()));
  }
  if (r != 0) return env_->WtStatus(r, "read raft_log");
  return out;
}

// -------------------------------------------------------------- writes ------

Status LogStore::Save(const std::optional<HardState>& hs, const std::vector<Entry>& entries) {
  auto ticket = Write(hs, entries);
  if (!ticket.ok()) return ticket.status();
  return WaitDurable(ticket.value());
}

Result<uint64_t> LogStore::Write(const std::optional<HardState>& hs,
                                 const std::vector<Entry>& entries) {
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].index != entries[0].index + i) {
      return Status::InvalidArgument("entries to append are not contiguous at index " +
                                     std::to_string(entries[i].index));
    }
  }
  auto lease = env_->Acquire();
  if (!lease.ok()) return lease.status();
  {
    std::unique_lock<std::shared_mutex> l(mu_);
    Status st = env_->CheckWritable();
    if (!st.ok()) return st;
    st = WriteLocked(*lease.value(), hs, entries);
    if (!st.ok()) return st;
  }
  return env_->NoteCommitted();
}

Status LogStore::WaitDurable(uint64_t ticket) {
  auto lease = env_->Acquire();
  if (!lease.ok()) return lease.status();
  return env_->WaitDurable(ticket, lease.value()->get());
}

Status LogStore::WriteLocked(WtSession& s, const std::optional<HardState>& hs,
                             const std::vector<Entry>& entries) {
  size_t skip = 0;
  if (!entries.empty()) {
    uint64_t first = entries.front().index;
    if (first > last_index_ + 1) {
      return Status::InvalidArgument("append at index " + std::to_string(first) +
                                     " leaves a gap after the last index " +
                                     std::to_string(last_index_));
    }
    if (entries.back().index <= start_index_) {
      skip = entries.size();
    } else if (first <= start_index_) {
      skip = start_index_ + 1 - first;
    }
  }
  bool append = skip < entries.size();
  if (!append && !hs) return Status::Ok();

  WT_SESSION* ws = s.get();
  WtTxn txn(ws);
  int r = txn.Begin();
  if (r != 0) return env_->Fail(env_->WtStatus(r, "begin log transaction"));
  uint64_t removed = 0;
  uint64_t added = 0;
  if (append) {
    uint64_t from = entries[skip].index;
    if (from <= last_index_) {
      Status st = DeleteFromLocked(s, from, &removed);
      if (!st.ok()) return env_->Fail(st);
    }
    auto cur = s.Cursor(tables::kRaftLog, WtSession::CursorMode::kOverwrite, *env_);
    if (!cur.ok()) return env_->Fail(cur.status());
    WT_CURSOR* c = cur.value();
    std::string value;
    char key[8];
    for (size_t i = skip; i < entries.size(); ++i) {
      const Entry& e = entries[i];
      coding::EncodeFixed64BE(key, e.index);
      EncodeRecord(e, &value);
      WT_ITEM k{}, v = Item(value);
      k.data = key;
      k.size = 8;
      c->set_key(c, &k);
      c->set_value(c, &v);
      if ((r = c->insert(c)) != 0) {
        return env_->Fail(
            env_->WtStatus(r, "append to raft_log at index " + std::to_string(e.index)));
      }
      added += StoredBytes(e);
    }
    c->reset(c);
  }
  if (hs) {
    Status st = PutHardState(s, *hs);
    if (!st.ok()) return env_->Fail(st);
  }
  r = env_->Inject("log.commit");
  if (r != 0) {
    txn.Rollback();
    return env_->Fail(env_->WtStatus(r, "commit log transaction"));
  }
  if ((r = txn.Commit()) != 0) return env_->Fail(env_->WtStatus(r, "commit log transaction"));

  // Committed: the memory side follows.
  if (append) {
    uint64_t from = entries[skip].index;
    while (!cache_.empty() && cache_.back().index >= from) {
      cache_bytes_ -= cache_.back().ByteSize();
      cache_.pop_back();
    }
    if (!cache_.empty() && cache_.back().index + 1 != from) {
      // The cache must end at last_index_; a truncation below its start
      // leaves it empty.
      cache_.clear();
      cache_bytes_ = 0;
    }
    last_index_ = from - 1;
    log_bytes_ = log_bytes_ - removed + added;
    CacheAppend(entries, skip);
  }
  if (hs) hard_state_ = *hs;
  return Status::Ok();
}

Status LogStore::DeleteFromLocked(WtSession& s, uint64_t from, uint64_t* removed_bytes) {
  auto cur = s.Cursor(tables::kRaftLog, WtSession::CursorMode::kOverwrite, *env_);
  if (!cur.ok()) return cur.status();
  WT_CURSOR* c = cur.value();
  std::string key = tables::IndexKey(from);
  WT_ITEM k = Item(key);
  c->set_key(c, &k);
  int exact = 0;
  int r = c->search_near(c, &exact);
  if (r == 0 && exact < 0) r = c->next(c);
  for (; r == 0; r = c->next(c)) {
    WT_ITEM v;
    if ((r = c->get_value(c, &v)) != 0) break;
    *removed_bytes += 8 + v.size;
    if ((r = c->remove(c)) != 0) break;
  }
  c->reset(c);
  if (r != WT_NOTFOUND) return env_->WtStatus(r, "truncate raft_log");
  return Status::Ok();
}

void LogStore::CacheAppend(const std::vector<Entry>& entries, size_t skip) {
  for (size_t i = skip; i < entries.size(); ++i) {
    cache_bytes_ += entries[i].ByteSize();
    cache_.push_back(entries[i]);
  }
  if (entries.size() > skip) last_index_ = entries.back().index;
  TrimCache();
}

void LogStore::TrimCache() {
  // The newest entry always stays (its bytes are shared with the Raft core's
  // log while it replicates), so a leader resending one entry larger than the
  // byte limit does not read it back from WiredTiger for every follower.
  while (!cache_.empty() && ((cache_.size() > 1 && (cache_.size() > options_.log_cache_entries ||
                                                    cache_bytes_ > options_.log_cache_bytes)) ||
                             cache_.front().index <= start_index_)) {
    cache_bytes_ -= cache_.front().ByteSize();
    cache_.pop_front();
  }
}

Status LogStore::PutHardState(WtSession& s, const HardState& hs) {
  auto cur = s.Cursor(tables::kRaftState, WtSession::CursorMode::kOverwrite, *env_);
  if (!cur.ok()) return cur.status();
  WT_CURSOR* c = cur.value();
  std::string value;
  coding::PutFixed64BE(&value, hs.term);
  coding::PutFixed64BE(&value, hs.vote);
  coding::PutFixed64BE(&value, hs.commit);
  WT_ITEM k = Item(tables::kHardStateKey), v = Item(value);
  c->set_key(c, &k);
  c->set_value(c, &v);
  int r = c->insert(c);
  c->reset(c);
  if (r != 0) return env_->WtStatus(r, "write hard state");
  return Status::Ok();
}

Status LogStore::PutLogStart(WtSession& s, uint64_t index, uint64_t term) {
  auto cur = s.Cursor(tables::kRaftState, WtSession::CursorMode::kOverwrite, *env_);
  if (!cur.ok()) return cur.status();
  WT_CURSOR* c = cur.value();
  std::string value;
  coding::PutFixed64BE(&value, index);
  coding::PutFixed64BE(&value, term);
  WT_ITEM k = Item(tables::kLogStartKey), v = Item(value);
  c->set_key(c, &k);
  c->set_value(c, &v);
  int r = c->insert(c);
  c->reset(c);
  if (r != 0) return env_->WtStatus(r, "write log start");
  return Status::Ok();
}

Status LogStore::PutSnapshot(WtSession& s, const SnapshotRecord& rec) {
  auto cur = s.Cursor(tables::kSnapshotMeta, WtSession::CursorMode::kOverwrite, *env_);
  if (!cur.ok()) return cur.status();
  WT_CURSOR* c = cur.value();
  std::string value;
  coding::PutFixed64BE(&value, rec.meta.index);
  coding::PutFixed64BE(&value, rec.meta.term);
  coding::PutFixed64BE(&value, rec.gen);
  value.push_back(static_cast<char>(rec.slot));
  tables::PutConfState(&value, rec.meta.conf_state);
  WT_ITEM k = Item(tables::kCurrentKey), v = Item(value);
  c->set_key(c, &k);
  c->set_value(c, &v);
  int r = c->insert(c);
  c->reset(c);
  if (r != 0) return env_->WtStatus(r, "write snapshot metadata");
  return Status::Ok();
}

LogStore::SnapshotRecord LogStore::snapshot_record() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return snapshot_;
}

Status LogStore::CompactStep(uint64_t limit, uint64_t* removed_out, bool* more) {
  *more = false;
  *removed_out = 0;
  auto lease = env_->Acquire();
  if (!lease.ok()) return lease.status();
  WtSession& s = *lease.value();
  std::unique_lock<std::shared_mutex> l(mu_);
  Status st = env_->CheckWritable();
  if (!st.ok()) return st;
  auto cur = s.Cursor(tables::kRaftLog, WtSession::CursorMode::kOverwrite, *env_);
  if (!cur.ok()) return cur.status();
  WT_CURSOR* c = cur.value();
  WtTxn txn(s.get());
  int r = txn.Begin();
  if (r != 0) return env_->Fail(env_->WtStatus(r, "begin compaction transaction"));
  uint64_t removed = 0;
  uint64_t bytes = 0;
  // From the first key in the table up: everything at or below the log start.
  c->reset(c);
  while ((r = c->next(c)) == 0) {
    WT_ITEM k, v;
    if ((r = c->get_key(c, &k)) != 0 || (r = c->get_value(c, &v)) != 0) break;
    uint64_t index = k.size == 8 ? coding::DecodeFixed64BE(static_cast<const char*>(k.data)) : 0;
    if (index > start_index_) break;
    if (removed == limit) {
      *more = true;
      break;
    }
    bytes += 8 + v.size;
    if ((r = c->remove(c)) != 0) break;
    ++removed;
  }
  c->reset(c);
  if (r != 0 && r != WT_NOTFOUND) return env_->Fail(env_->WtStatus(r, "compact raft_log"));
  if (removed == 0) return Status::Ok();
  if ((r = txn.Commit()) != 0) return env_->Fail(env_->WtStatus(r, "commit compaction"));
  log_bytes_ -= std::min(log_bytes_, bytes);
  *removed_out = removed;
  return Status::Ok();
}

}  // namespace phalanx::storage

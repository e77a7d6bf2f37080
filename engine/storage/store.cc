#include "engine/storage/store.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <thread>

#include "engine/storage/coding.h"
#include "engine/storage/read_cache.h"
#include "engine/storage/tables.h"
#include "engine/storage/value.h"
#include "engine/storage/wt_env.h"
#include "util/write_file_durably.h"

namespace phalanx::storage {

namespace fs = std::filesystem;
using consensus::HardState;
using consensus::SnapshotMetadata;

namespace {

constexpr const char* kMarkerFile = "PHALANX_STORE";
constexpr const char* kMarkerText = "phalanx-storage 1\n";
// Snapshot chunk formats (every integer a LEB128 varint):
//   1: u8 1 | count | count x (length-prefixed key, length-prefixed value)
//   2: u8 2 | length-prefixed key | value length | offset | bytes of the value
//      from offset: one piece of a record too large for one chunk. A record's
//      pieces come in order, with nothing in between, first at offset 0.
constexpr uint8_t kChunkVersion = 1;
constexpr uint8_t kChunkPieceVersion = 2;
// Largest record a piece sequence may announce: a value of up to 512 MiB
// (proto-max-bulk-len) plus its encoding, with room to spare.
constexpr uint64_t kMaxPiecedRecord = uint64_t{1} << 30;

// Files every store has; checked before WiredTiger touches anything.
constexpr const char* kRequiredFiles[] = {"WiredTiger",  "WiredTiger.wt", "WiredTiger.turtle",
                                          "raft_log.wt", "raft_state.wt", "snapshot_meta.wt",
                                          "kv_meta.wt"};

std::string WtConfig(const Options& o, bool create, bool read_only) {
  std::string c;
  if (create) c += "create,";
  if (read_only) c += "readonly=true,";
  // Only this string configures the database: no WIREDTIGER_CONFIG from the
  // environment, no base configuration file in the home.
  c += "config_base=false,use_environment=false,statistics=(none),";
  c += "cache_size=" + std::to_string(o.cache_size_mb) + "MB,";
  c += "session_max=" + std::to_string(o.session_max) + ",";
  c +=
      "log=(enabled=true,archive=true,prealloc=true,file_max=" + std::to_string(o.log_file_max_mb) +
      "MB),";
  // Commits do not sync; durability comes from WtEnv::WaitDurable's explicit
  // log flush, shared by concurrent writers (group commit).
  c += "transaction_sync=(enabled=false),";
  c += "checkpoint=(wait=" + std::to_string(o.checkpoint_interval_s) +
       ",log_size=" + std::to_string(o.checkpoint_log_mb) + "MB)";
  return c;
}

Status Corrupt(const fs::path& file, const std::string& why) {
  return Status::Corruption(file.string() + ": " + why);
}

// Names the store in an error from opening it, unless the message already does.
Status CannotOpen(const fs::path& dir, const Status& st) {
  if (st.message().find(dir.string()) != std::string::npos) return st;
  return Status::Error(st.code(), "cannot open the store in " + dir.string() + ": " + st.message());
}

}  // namespace

// ------------------------------------------------------- snapshot streams ---

struct SnapshotReader::Impl {
  Impl(Store* store, WtEnv::Lease lease) : store(store), lease(std::move(lease)) {}
  ~Impl() {
    if (cursor != nullptr) cursor->close(cursor);
    store->Pin(gen, slot, -1);
  }
  Store* store;
  WtEnv::Lease lease;
  WT_CURSOR* cursor = nullptr;
  uint64_t gen = 0;
  uint32_t slot = 0;
  bool started = false;
  bool done = false;
  // A record larger than a chunk, sent in pieces: its key, value, next offset.
  std::string big_key;
  std::string big_value;
  size_t big_offset = 0;
  bool big_pending = false;

  // The next piece of the pending large record, as a version-2 chunk.
  void NextPiece(std::string* chunk, size_t target) {
    const size_t n = std::min(target, big_value.size() - big_offset);
    chunk->clear();
    chunk->reserve(n + big_key.size() + 32);
    chunk->push_back(static_cast<char>(kChunkPieceVersion));
    coding::PutLengthPrefixed(chunk, big_key);
    coding::PutVarint64(chunk, big_value.size());
    coding::PutVarint64(chunk, big_offset);
    chunk->append(big_value, big_offset, n);
    big_offset += n;
    if (big_offset == big_value.size()) {
      big_pending = false;
      std::string().swap(big_key);
      std::string().swap(big_value);
      big_offset = 0;
    }
  }
};

SnapshotReader::SnapshotReader(std::unique_ptr<Impl> impl, SnapshotMetadata meta)
    : impl_(std::move(impl)), meta_(std::move(meta)) {}
SnapshotReader::~SnapshotReader() = default;

Result<bool> SnapshotReader::Next(std::string* chunk) {
  Impl& im = *impl_;
  const size_t target = im.store->options_.snapshot_chunk_bytes;
  if (im.big_pending) {
    im.NextPiece(chunk, target);
    im.started = true;
    return true;
  }
  if (im.done) return false;
  WT_CURSOR* c = im.cursor;
  std::string body;
  uint64_t count = 0;
  int r = 0;
  while (body.size() < target) {
    if ((r = c->next(c)) != 0) break;
    WT_ITEM k, v;
    if ((r = c->get_key(c, &k)) != 0 || (r = c->get_value(c, &v)) != 0) break;
    if (k.size + v.size > target) {
      // Too large for one chunk (and perhaps for one transport message): it
      // goes as pieces, after what this chunk already holds.
      im.big_key.assign(View(k));
      im.big_value.assign(View(v));
      im.big_offset = 0;
      im.big_pending = true;
      break;
    }
    coding::PutLengthPrefixed(&body, View(k));
    coding::PutLengthPrefixed(&body, View(v));
    ++count;
  }
  if (im.big_pending && count == 0) {
    im.NextPiece(chunk, target);
    im.started = true;
    return true;
  }
  if (r == WT_NOTFOUND) {
    im.done = true;
  } else if (r != 0) {
    return im.store->env_->WtStatus(r, "read snapshot checkpoint");
  }
  if (count == 0 && im.started) return false;
  im.started = true;
  chunk->clear();
  chunk->reserve(body.size() + 11);
  chunk->push_back(static_cast<char>(kChunkVersion));
  coding::PutVarint64(chunk, count);
  chunk->append(body);
  return true;
}

struct SnapshotWriter::Impl {
  Impl(Store* store, WtEnv::Lease lease, uint64_t gen)
      : store(store), lease(std::move(lease)), gen(gen), uri(tables::KvUri(gen)) {}
  ~Impl() {
    lease->CloseCursors(uri);
    if (!finished) store->AbandonInstall(gen, *lease);
  }
  Store* store;
  WtEnv::Lease lease;
  uint64_t gen;
  std::string uri;
  uint64_t records = 0;
  uint64_t keys = 0;
  bool finished = false;
  // The large record being received in pieces (chunk version 2).
  std::string big_key;
  std::string big_value;
  uint64_t big_total = 0;
  bool big_pending = false;

  // Takes one version-2 chunk (after its version byte). When the record is
  // complete, sets *key/*value to it (valid until the next call).
  Status TakePiece(std::string_view in, std::string_view* key, std::string_view* value);
  // Validates `records` and writes them in one transaction.
  Status WriteRecords(const std::vector<std::pair<std::string_view, std::string_view>>& records);
};

Status SnapshotWriter::Impl::TakePiece(std::string_view in, std::string_view* key,
                                       std::string_view* value) {
  std::string_view k;
  uint64_t total = 0, offset = 0;
  if (!coding::GetLengthPrefixed(&in, &k) || !coding::GetVarint64(&in, &total) ||
      !coding::GetVarint64(&in, &offset) || in.empty()) {
    return Status::Corruption("snapshot chunk: malformed record piece");
  }
  if (offset == 0) {
    if (big_pending) return Status::Corruption("snapshot chunk: a record piece is missing");
    if (total > kMaxPiecedRecord) return Status::Corruption("snapshot chunk: record too large");
    big_key.assign(k);
    big_value.clear();
    big_value.reserve(total);
    big_total = total;
    big_pending = true;
  } else if (!big_pending || k != big_key || offset != big_value.size() || total != big_total) {
    return Status::Corruption("snapshot chunk: record piece out of order");
  }
  if (in.size() > big_total - big_value.size()) {
    return Status::Corruption("snapshot chunk: record piece past the record's end");
  }
  big_value.append(in);
  *key = {};
  *value = {};
  if (big_value.size() == big_total) {
    big_pending = false;
    *key = big_key;
    *value = big_value;
  }
  return Status::Ok();
}

SnapshotWriter::SnapshotWriter(std::unique_ptr<Impl> impl, SnapshotMetadata meta)
    : impl_(std::move(impl)), meta_(std::move(meta)) {}
SnapshotWriter::~SnapshotWriter() = default;

uint64_t SnapshotWriter::records() const {
  return impl_->records;
}

Status SnapshotWriter::Write(std::string_view chunk) {
  Impl& im = *impl_;
  Status st = im.store->env_->CheckWritable();
  if (!st.ok()) return st;
  std::string_view in = chunk;
  uint8_t version;
  if (!coding::GetByte(&in, &version) ||
      (version != kChunkVersion && version != kChunkPieceVersion)) {
    return Status::Corruption("snapshot chunk: unknown version");
  }
  std::vector<std::pair<std::string_view, std::string_view>> records;
  if (version == kChunkPieceVersion) {
    std::string_view k, v;
    st = im.TakePiece(in, &k, &v);
    if (!st.ok()) return st;
    if (k.empty()) return Status::Ok();  // more pieces to come
    records.emplace_back(k, v);
  } else {
    if (im.big_pending) return Status::Corruption("snapshot chunk: a record piece is missing");
    uint64_t count;
    if (!coding::GetVarint64(&in, &count) || count > in.size()) {
      return Status::Corruption("snapshot chunk: bad record count");
    }
    records.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
      std::string_view k, v;
      if (!coding::GetLengthPrefixed(&in, &k) || !coding::GetLengthPrefixed(&in, &v)) {
        return Status::Corruption("snapshot chunk: malformed record " + std::to_string(i));
      }
      records.emplace_back(k, v);
    }
    if (!in.empty()) return Status::Corruption("snapshot chunk: trailing bytes");
  }
  st = im.WriteRecords(records);
  if (im.big_value.size() == im.big_total && !im.big_pending) {
    std::string().swap(im.big_value);  // a finished large record: free it now
  }
  return st;
}

Status SnapshotWriter::Impl::WriteRecords(
    const std::vector<std::pair<std::string_view, std::string_view>>& records) {
  WtEnv* env = store->env_.get();
  // Validate every record before writing any of them.
  for (size_t i = 0; i < records.size(); ++i) {
    std::string_view user;
    ValueView vv;
    if (!UserKey(records[i].first, &user) || !DecodeValue(records[i].second, &vv)) {
      return Status::Corruption("snapshot chunk: malformed record " + std::to_string(i));
    }
  }

  auto cur = lease->Cursor(uri, WtSession::CursorMode::kNoOverwrite, *env);
  if (!cur.ok()) return env->Fail(cur.status());
  WT_CURSOR* c = cur.value();
  WtTxn txn(lease->get());
  int r = txn.Begin();
  if (r != 0) return env->Fail(env->WtStatus(r, "begin snapshot write"));
  uint64_t added = 0;
  for (const auto& [k, v] : records) {
    WT_ITEM ki = Item(k), vi = Item(v);
    c->set_key(c, &ki);
    c->set_value(c, &vi);
    r = c->insert(c);
    if (r == WT_DUPLICATE_KEY) {
      c->set_key(c, &ki);
      c->set_value(c, &vi);
      r = c->update(c);
    } else if (r == 0) {
      ++added;
    }
    if (r != 0) return env->Fail(env->WtStatus(r, "write snapshot record"));
  }
  c->reset(c);
  r = env->Inject("snapshot.write");
  if (r != 0) {
    txn.Rollback();
    return env->Fail(env->WtStatus(r, "commit snapshot chunk"));
  }
  if ((r = txn.Commit()) != 0) return env->Fail(env->WtStatus(r, "commit snapshot chunk"));
  this->records += records.size();
  keys += added;
  return Status::Ok();
}

// ------------------------------------------------------------------ open ----

Store::Store(Token, Options options) : options_(std::move(options)) {}

Store::~Store() {
  log_.reset();
  kv_.reset();
  env_.reset();
}

Result<std::unique_ptr<Store>> Store::Open(const Options& options) {
  if (options.dir.empty()) return Status::InvalidArgument("storage: Options::dir is empty");
  fs::path dir(options.dir);
  std::error_code ec;
  bool exists = fs::exists(dir, ec);
  if (ec) return Status::IoError(dir.string() + ": " + ec.message());
  if (!exists) {
    if (!options.create_if_missing) return Status::NotFound(dir.string() + ": no such directory");
    fs::create_directories(dir, ec);
    if (ec) return Status::IoError("create " + dir.string() + ": " + ec.message());
  } else if (!fs::is_directory(dir, ec)) {
    return Status::InvalidArgument(dir.string() + ": not a directory");
  }

  fs::path marker = dir / kMarkerFile;
  bool has_marker = fs::exists(marker, ec);
  bool has_wt = false;
  for (const char* f : {"WiredTiger", "WiredTiger.wt", "WiredTiger.turtle"}) {
    has_wt = has_wt || fs::exists(dir / f, ec);
  }
  if (has_marker) {
    std::ifstream in(marker);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text != kMarkerText) {
      return Corrupt(marker, "unrecognized store marker; refusing to open (nothing was changed)");
    }
    for (const char* f : kRequiredFiles) {
      if (!fs::exists(dir / f, ec)) {
        return Corrupt(dir / f, "missing file; the store in " + dir.string() +
                                    " is incomplete; refusing to open (nothing was changed)");
      }
    }
    bool has_log = false;
    for (const auto& de : fs::directory_iterator(dir, ec)) {
      has_log = has_log || de.path().filename().string().rfind("WiredTigerLog.", 0) == 0;
    }
    if (!has_log) {
      return Corrupt(dir / "WiredTigerLog.*",
                     "missing file: no WiredTiger log file; refusing to "
                     "open (nothing was changed)");
    }
  } else if (has_wt) {
    return Corrupt(marker,
                   "missing file: the directory holds WiredTiger files but no store "
                   "marker (not a Phalanx store, or its first start was interrupted); "
                   "refusing to open (nothing was changed)");
  }

  Options o = options;
  if (!o.message_sink) {
    o.message_sink = [](std::string_view line) {
      std::fprintf(stderr, "phalanx storage: %.*s\n", static_cast<int>(line.size()), line.data());
    };
  }
  if (has_marker) {
    // A dry run first, read-only: a damaged store is refused before
    // WiredTiger writes anything (a read-write open starts a new log file
    // and checkpoints on close). A store that needs crash recovery cannot be
    // checked this way; the read-write open below checks it after recovery.
    bool needs_recovery = false;
    Status st = Store(Token(), o).Init(false, /*read_only=*/true, &needs_recovery);
    if (!st.ok() && !needs_recovery) return CannotOpen(dir, st);
  }
  auto store = std::make_unique<Store>(Token(), std::move(o));
  Status st = store->Init(!has_marker, /*read_only=*/false, nullptr);
  if (!st.ok()) return CannotOpen(dir, st);
  return store;
}

Status Store::Init(bool fresh, bool read_only, bool* needs_recovery) {
  auto env = WtEnv::Open(options_.dir, WtConfig(options_, fresh, read_only), options_.message_sink,
                         options_.fault_injector, needs_recovery);
  if (!env.ok()) return env.status();
  env_ = std::move(env).value();
  kv_ = std::make_unique<KvStore>(KvStore::Token(), env_.get(), options_);
  log_ = std::make_unique<LogStore>(LogStore::Token(), env_.get(), options_, kv_.get());

  auto lease = env_->Acquire();
  if (!lease.ok()) return lease.status();
  WT_SESSION* s = lease.value()->get();
  if (fresh) {
    for (const char* t :
         {tables::kRaftLog, tables::kRaftState, tables::kSnapshotMeta, tables::kKvMeta}) {
      int r = s->create(s, t, tables::kTableConfig);
      if (r != 0) return env_->WtStatus(r, std::string("create ") + t);
    }
    int r = s->create(s, tables::KvUri(1).c_str(), tables::kKvTableConfig);
    if (r != 0) return env_->WtStatus(r, "create " + tables::KvUri(1));
    // Make the new tables durable before the marker says a store is here.
    if ((r = s->checkpoint(s, nullptr)) != 0) return env_->WtStatus(r, "checkpoint new store");
    util::FileStatus written =
        util::WriteFileDurably(fs::path(options_.dir) / kMarkerFile, kMarkerText);
    if (!written.ok()) return Status::IoError(written.message());
  }
  Status st = kv_->Load(*lease.value());
  if (!st.ok()) return st;
  st = log_->Load(*lease.value());
  if (!st.ok()) return st;

  // The KV tables the state refers to must be there.
  LogStore::SnapshotRecord snap = log_->snapshot_record();
  std::set<uint64_t> needed = {kv_->live_gen_.load()};
  if (snap.meta.index != 0) needed.insert(snap.gen);
  for (uint64_t gen : needed) {
    fs::path f = fs::path(options_.dir) / tables::KvFile(gen);
    std::error_code ec;
    if (!fs::exists(f, ec)) {
      return Corrupt(f, "missing file; the store in " + options_.dir +
                            " is incomplete; refusing to open (nothing was changed)");
    }
  }
  // Read the live KV table once, so a damaged one fails the open.
  {
    auto probe = lease.value()->KvCursor(tables::KvUri(kv_->live_gen_.load()),
                                         WtSession::CursorMode::kOverwrite, *env_);
    if (!probe.ok()) return probe.status();
    WT_CURSOR* c = probe.value();
    int r = c->next(c);
    if (r == 0) r = c->prev(c);
    c->reset(c);
    if (r != 0 && r != WT_NOTFOUND) return env_->WtStatus(r, "read the KV table");
  }
  lease.value()->CloseCursors(tables::KvUri(kv_->live_gen_.load()));
  if (read_only) return Status::Ok();

  // Leftovers of interrupted snapshot installs and FLUSHALLs: every KV table
  // that is neither live nor snapshotted.
  std::lock_guard<std::mutex> l(snapshot_mu_);
  st = CollectGarbageLocked(/*at_open=*/true);
  if (!st.ok()) return st;
  env_->ReleaseMessages();
  return Status::Ok();
}

// ------------------------------------------------------------ first boot ----

bool Store::IsFresh() const {
  return log_->hard_state().IsEmpty() && log_->LastIndex() == 0 && kv_->applied_index() == 0 &&
         kv_->conf_state() == consensus::ConfState{};
}

Status Store::Bootstrap(const consensus::ConfState& conf_state) {
  std::lock_guard<std::mutex> apply_lock(kv_->apply_mu_);
  Status st = env_->CheckWritable();
  if (!st.ok()) return st;
  if (!IsFresh()) return Status::InvalidArgument("bootstrap: the store already holds Raft state");
  auto lease = env_->Acquire();
  if (!lease.ok()) return lease.status();
  KvStore::Meta m = kv_->meta();
  m.conf = conf_state;
  WtTxn txn(lease.value()->get());
  int r = txn.Begin();
  if (r != 0) return env_->Fail(env_->WtStatus(r, "begin bootstrap"));
  if ((st = kv_->PutMeta(*lease.value(), m)); !st.ok()) return env_->Fail(st);
  if ((r = env_->Inject("meta.commit")) != 0 || (r = txn.Commit()) != 0) {
    txn.Rollback();
    return env_->Fail(env_->WtStatus(r, "commit bootstrap"));
  }
  kv_->Publish(m);
  return env_->WaitDurable(env_->NoteCommitted(), lease.value()->get());
}

// ------------------------------------------------------------- snapshots ----

bool Store::ShouldSnapshot() const {
  uint64_t applied = kv_->applied_index();
  uint64_t snap = log_->snapshot_metadata().index;
  if (applied <= snap) return false;
  return applied - snap >= options_.snapshot_entries ||
         log_->log_bytes() >= options_.snapshot_bytes;
}

int Store::FreeSlot(uint64_t gen) const {
  LogStore::SnapshotRecord cur = log_->snapshot_record();
  std::lock_guard<std::mutex> l(pins_mu_);
  auto pinned = [&](uint32_t slot) {
    for (const PinKey& p : pins_) {
      if (p.gen == gen && p.slot == slot && p.count > 0) return true;
    }
    return false;
  };
  // Prefer the slot the current snapshot does not use, so the current one
  // stays readable until the new one is recorded.
  uint32_t first = (cur.meta.index != 0 && cur.gen == gen) ? 1 - cur.slot : 0;
  for (uint32_t slot : {first, 1 - first}) {
    if (!pinned(slot)) return static_cast<int>(slot);
  }
  return -1;
}

void Store::Pin(uint64_t gen, uint32_t slot, int delta) {
  std::lock_guard<std::mutex> l(pins_mu_);
  for (auto it = pins_.begin(); it != pins_.end(); ++it) {
    if (it->gen == gen && it->slot == slot) {
      it->count += delta;
      if (it->count <= 0) pins_.erase(it);
      return;
    }
  }
  if (delta > 0) pins_.push_back({gen, slot, delta});
}

bool Store::PinnedGen(uint64_t gen) const {
  std::lock_guard<std::mutex> l(pins_mu_);
  for (const PinKey& p : pins_) {
    if (p.gen == gen && p.count > 0) return true;
  }
  return false;
}

Result<SnapshotMetadata> Store::CreateSnapshot() {
  std::lock_guard<std::mutex> l(snapshot_mu_);
  Status st = env_->CheckWritable();
  if (!st.ok()) return st;
  LogStore::SnapshotRecord cur = log_->snapshot_record();
  uint64_t applied = kv_->applied_index();
  if (applied == 0) return Status::InvalidArgument("snapshot: nothing applied yet");
  if (applied == cur.meta.index) return cur.meta;
  uint64_t gen = kv_->live_gen_.load();
  int slot = FreeSlot(gen);
  if (slot < 0) return Status::Busy("snapshot: both checkpoint slots are being streamed");

  auto lease = env_->Acquire();
  if (!lease.ok()) return lease.status();
  WT_SESSION* s = lease.value()->get();
  std::string name = tables::CheckpointName(static_cast<uint32_t>(slot));
  std::string config =
      "name=" + name + ",target=(\"" + tables::kKvMeta + "\",\"" + tables::KvUri(gen) + "\")";
  int r;
  {
    // No KV transaction may commit while the checkpoint runs. WiredTiger
    // 3.2.1 gives each file of a targeted (non-full) checkpoint the LSN of
    // that file's checkpoint start as its recovery starting point, taken
    // *after* the checkpoint's snapshot: an apply transaction committing in
    // between is neither in the checkpoint image (invisible to its snapshot)
    // nor replayed by recovery (its log record lies before that LSN). After a
    // crash the KV table then lacks that entry's effect while kv_meta, rewritten
    // by every later apply, claims it applied (the chaos finding of issue #7).
    // Holding the apply mutex leaves no transaction in flight on kv_meta or
    // kv_<gen> between the snapshot and the checkpoint LSN.
    std::lock_guard<std::mutex> apply_lock(kv_->apply_mu_);
    r = env_->Inject("snapshot.checkpoint");
    if (r == 0) r = s->checkpoint(s, config.c_str());
  }
  if (r != 0) return env_->Fail(env_->WtStatus(r, "snapshot checkpoint"));

  // The applied state inside that checkpoint.
  WT_CURSOR* c = nullptr;
  std::string ckpt = "checkpoint=" + name;
  r = s->open_cursor(s, tables::kKvMeta, nullptr, ckpt.c_str(), &c);
  if (r != 0) return env_->WtStatus(r, "open snapshot checkpoint of kv_meta");
  WT_ITEM k = Item(tables::kAppliedKey);
  c->set_key(c, &k);
  KvStore::Meta m;
  r = c->search(c);
  bool decoded = false;
  if (r == 0) {
    WT_ITEM v;
    if ((r = c->get_value(c, &v)) == 0) decoded = KvStore::DecodeMeta(View(v), &m);
  }
  c->close(c);
  if (r != 0) return env_->WtStatus(r, "read snapshot checkpoint of kv_meta");
  if (!decoded) return Status::Corruption("kv_meta.wt: malformed applied-state record");
  if (m.gen != gen) return Status::Busy("snapshot: the KV table changed meanwhile; retry");
  if (m.applied <= cur.meta.index) return cur.meta;

  LogStore::SnapshotRecord rec;
  rec.meta.index = m.applied;
  rec.meta.term = m.term;
  rec.meta.conf_state = m.conf;
  rec.gen = gen;
  rec.slot = static_cast<uint32_t>(slot);
  uint64_t ticket;
  {
    std::unique_lock<std::shared_mutex> ll(log_->mu_);
    if ((st = env_->CheckWritable()); !st.ok()) return st;
    WtTxn txn(s);
    if ((r = txn.Begin()) != 0) return env_->Fail(env_->WtStatus(r, "begin snapshot record"));
    if ((st = log_->PutSnapshot(*lease.value(), rec)); !st.ok()) return env_->Fail(st);
    if ((r = env_->Inject("meta.commit")) != 0 || (r = txn.Commit()) != 0) {
      txn.Rollback();
      return env_->Fail(env_->WtStatus(r, "commit snapshot record"));
    }
    log_->snapshot_ = rec;
    ticket = env_->NoteCommitted();
  }
  if ((st = env_->WaitDurable(ticket, s)); !st.ok()) return st;
  snapshots_created_.fetch_add(1);
  CollectGarbageLocked(false);
  return rec.meta;
}

Result<std::unique_ptr<SnapshotReader>> Store::OpenSnapshot() {
  std::lock_guard<std::mutex> l(snapshot_mu_);
  LogStore::SnapshotRecord rec = log_->snapshot_record();
  if (rec.meta.index == 0) return Status::NotFound("no snapshot yet");
  auto lease = env_->Acquire();
  if (!lease.ok()) return lease.status();
  WT_SESSION* s = lease.value()->get();
  WT_CURSOR* c = nullptr;
  std::string ckpt = "checkpoint=" + tables::CheckpointName(rec.slot);
  int r = s->open_cursor(s, tables::KvUri(rec.gen).c_str(), nullptr, ckpt.c_str(), &c);
  if (r != 0) return env_->WtStatus(r, "open snapshot checkpoint");
  Pin(rec.gen, rec.slot, +1);
  auto impl = std::make_unique<SnapshotReader::Impl>(this, std::move(lease).value());
  impl->cursor = c;
  impl->gen = rec.gen;
  impl->slot = rec.slot;
  return std::make_unique<SnapshotReader>(std::move(impl), rec.meta);
}

Result<std::unique_ptr<SnapshotWriter>> Store::BeginSnapshotInstall(const SnapshotMetadata& meta) {
  std::lock_guard<std::mutex> l(snapshot_mu_);
  Status st = env_->CheckWritable();
  if (!st.ok()) return st;
  if (meta.index <= kv_->applied_index()) {
    return Status::InvalidArgument("snapshot at index " + std::to_string(meta.index) +
                                   " is not newer than the applied index " +
                                   std::to_string(kv_->applied_index()));
  }
  auto gen = kv_->NewGeneration();
  if (!gen.ok()) return env_->Fail(gen.status());
  auto lease = env_->Acquire();
  if (!lease.ok()) return lease.status();
  installing_.insert(gen.value());
  auto impl = std::make_unique<SnapshotWriter::Impl>(this, std::move(lease).value(), gen.value());
  return std::make_unique<SnapshotWriter>(std::move(impl), meta);
}

void Store::AbandonInstall(uint64_t gen, WtSession& s) {
  std::lock_guard<std::mutex> l(snapshot_mu_);
  installing_.erase(gen);
  s.CloseCursors(tables::KvUri(gen));
  // Best effort: what is left is dropped by a later GC or the next open.
  s.get()->drop(s.get(), tables::KvUri(gen).c_str(), nullptr);
}

Status Store::FinishSnapshotInstall(std::unique_ptr<SnapshotWriter> writer,
                                    const std::optional<HardState>& hs) {
  if (!writer) return Status::InvalidArgument("snapshot install: no writer");
  SnapshotWriter::Impl& im = *writer->impl_;
  const SnapshotMetadata& meta = writer->meta_;
  if (im.big_pending) return Status::Corruption("snapshot: ends inside a record sent in pieces");
  std::unique_lock<std::mutex> l(snapshot_mu_);
  Status st = env_->CheckWritable();
  if (!st.ok()) return st;
  WtSession& s = *im.lease;
  s.CloseCursors(im.uri);
  WT_SESSION* ws = s.get();

  // 1. The staged table, durable and streamable (slot 0 of a fresh table).
  uint32_t slot = 0;
  std::string config = "name=" + tables::CheckpointName(slot) + ",target=(\"" + im.uri + "\")";
  int r = env_->Inject("snapshot.checkpoint");
  if (r == 0) r = ws->checkpoint(ws, config.c_str());
  if (r != 0) return env_->Fail(env_->WtStatus(r, "checkpoint the staged snapshot"));

  // 2. One transaction switches everything over.
  std::lock_guard<std::mutex> apply_lock(kv_->apply_mu_);
  if (meta.index <= kv_->applied_index()) {
    return Status::InvalidArgument("snapshot at index " + std::to_string(meta.index) +
                                   " is not newer than the applied index " +
                                   std::to_string(kv_->applied_index()));
  }
  KvStore::Meta m;
  m.applied = meta.index;
  m.term = meta.term;
  m.gen = im.gen;
  m.count = im.keys;
  m.conf = meta.conf_state;
  LogStore::SnapshotRecord rec;
  rec.meta = meta;
  rec.gen = im.gen;
  rec.slot = slot;
  uint64_t ticket;
  {
    std::unique_lock<std::shared_mutex> ll(log_->mu_);
    HardState h = hs ? *hs : log_->hard_state_;
    if (h.term < meta.term) {
      h.term = meta.term;
      h.vote = consensus::kNoNode;
    }
    h.commit = std::max(h.commit, meta.index);
    WtTxn txn(ws);
    if ((r = txn.Begin()) != 0) return env_->Fail(env_->WtStatus(r, "begin snapshot install"));
    uint64_t removed = 0;
    if ((st = kv_->PutMeta(s, m)); !st.ok()) return env_->Fail(st);
    if ((st = log_->PutSnapshot(s, rec)); !st.ok()) return env_->Fail(st);
    if ((st = log_->DeleteFromLocked(s, meta.index + 1, &removed)); !st.ok()) {
      return env_->Fail(st);
    }
    if ((st = log_->PutLogStart(s, meta.index, meta.term)); !st.ok()) return env_->Fail(st);
    if ((st = log_->PutHardState(s, h)); !st.ok()) return env_->Fail(st);
    // The whole KV state changes: the read cache forgets everything.
    const std::vector<std::string_view> no_keys;
    if (kv_->cache_) kv_->cache_->BeginInvalidate(no_keys, true);
    if ((r = env_->Inject("meta.commit")) == 0) r = txn.Commit();
    if (r != 0) {
      txn.Rollback();
      if (kv_->cache_) kv_->cache_->EndInvalidate(no_keys, true);
      return env_->Fail(env_->WtStatus(r, "commit snapshot install"));
    }
    im.finished = true;
    installing_.erase(im.gen);
    log_->start_index_ = meta.index;
    log_->start_term_ = meta.term;
    log_->last_index_ = meta.index;
    log_->log_bytes_ -= std::min(log_->log_bytes_, removed);
    log_->cache_.clear();
    log_->cache_bytes_ = 0;
    log_->hard_state_ = h;
    log_->snapshot_ = rec;
    kv_->Publish(m);
    if (kv_->cache_) kv_->cache_->EndInvalidate(no_keys, true);
    ticket = env_->NoteCommitted();
  }
  if ((st = env_->WaitDurable(ticket, ws)); !st.ok()) return st;
  writer.reset();
  // 3. Clean up: the old table, and log entries below the snapshot.
  CollectGarbageLocked(false);
  return CompactStepsLocked();
}

// ------------------------------------------------------------ compaction ----

Status Store::CompactLog(uint64_t upto) {
  std::lock_guard<std::mutex> l(snapshot_mu_);
  Status st = env_->CheckWritable();
  if (!st.ok()) return st;
  auto lease = env_->Acquire();
  if (!lease.ok()) return lease.status();
  uint64_t ticket = 0;
  {
    std::unique_lock<std::shared_mutex> ll(log_->mu_);
    uint64_t target = std::min({upto, log_->snapshot_.meta.index, log_->last_index_});
    if (target > log_->start_index_) {
      auto term = log_->TermLocked(target);
      if (!term.ok()) return term.status();
      WtTxn txn(lease.value()->get());
      int r = txn.Begin();
      if (r != 0) return env_->Fail(env_->WtStatus(r, "begin compaction"));
      if ((st = log_->PutLogStart(*lease.value(), target, term.value())); !st.ok()) {
        return env_->Fail(st);
      }
      if ((r = env_->Inject("meta.commit")) != 0 || (r = txn.Commit()) != 0) {
        txn.Rollback();
        return env_->Fail(env_->WtStatus(r, "commit compaction"));
      }
      log_->start_index_ = target;
      log_->start_term_ = term.value();
      log_->TrimCache();
      ticket = env_->NoteCommitted();
    }
  }
  // The new start must be durable before entries disappear: otherwise a
  // crash could leave a log whose start points past what remains.
  if (ticket != 0) {
    if ((st = env_->WaitDurable(ticket, lease.value()->get())); !st.ok()) return st;
  }
  if ((st = CompactStepsLocked()); !st.ok()) return st;
  return CollectGarbageLocked(false);
}

Status Store::CompactStepsLocked() {
  // Bounded steps; Saves run between them (each step holds the log lock for
  // one short transaction only). The number of steps is bounded by the
  // entries present when we started.
  uint64_t limit = std::max<uint64_t>(1, options_.compaction_step_entries);
  for (uint64_t step = 0;; ++step) {
    uint64_t removed = 0;
    bool more = false;
    Status st = log_->CompactStep(limit, &removed, &more);
    if (!st.ok()) return st;
    entries_compacted_.fetch_add(removed);
    if (!more) return Status::Ok();
    std::this_thread::yield();
  }
}

// ------------------------------------------------------------------- GC -----

Status Store::CollectGarbage() {
  std::lock_guard<std::mutex> l(snapshot_mu_);
  return CollectGarbageLocked(false);
}

Status Store::CollectGarbageLocked(bool at_open) {
  auto lease = env_->Acquire();
  if (!lease.ok()) return lease.status();
  WT_SESSION* s = lease.value()->get();
  WT_CURSOR* meta = nullptr;
  int r = s->open_cursor(s, "metadata:", nullptr, nullptr, &meta);
  if (r != 0) return env_->WtStatus(r, "open WiredTiger metadata");
  std::vector<uint64_t> gens;
  const std::string_view prefix = tables::kKvPrefix;
  while ((r = meta->next(meta)) == 0) {
    const char* key = nullptr;
    if (meta->get_key(meta, &key) != 0 || key == nullptr) continue;
    std::string_view k(key);
    if (k.substr(0, prefix.size()) != prefix) continue;
    std::string_view num = k.substr(prefix.size());
    if (num.empty() || num.find_first_not_of("0123456789") != std::string_view::npos) continue;
    gens.push_back(std::stoull(std::string(num)));
  }
  meta->close(meta);
  if (r != WT_NOTFOUND) return env_->WtStatus(r, "list WiredTiger metadata");

  uint64_t live = kv_->live_gen_.load();
  LogStore::SnapshotRecord snap = log_->snapshot_record();
  for (uint64_t gen : gens) {
    if (gen > kv_->max_gen_.load()) kv_->max_gen_.store(gen);
    if (gen == live || (snap.meta.index != 0 && gen == snap.gen)) continue;
    // At run time only generations older than the live one are garbage:
    // newer ones are being installed or created by a FLUSHALL in progress.
    if (!at_open && (gen > live || installing_.count(gen) != 0)) continue;
    if (PinnedGen(gen)) continue;
    std::string uri = tables::KvUri(gen);
    env_->PurgeCursors(uri);
    r = s->drop(s, uri.c_str(), nullptr);
    if (r == EBUSY) continue;  // a reader still has it open: next time
    if (r != 0) return env_->WtStatus(r, "drop " + uri);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- health ----

bool Store::failed() const {
  return env_->failed();
}

Status Store::health() const {
  return env_->CheckWritable();
}

Store::Stats Store::stats() const {
  Stats s;
  s.log_flushes = env_->flush_count();
  s.durable_waits = env_->durable_wait_count();
  s.snapshots_created = snapshots_created_.load();
  s.entries_compacted = entries_compacted_.load();
  return s;
}

}  // namespace phalanx::storage

#include "consensus/storage.h"

#include <algorithm>

namespace phalanx::consensus {

namespace {
Status Compacted() {
  return Status::Error(Status::Code::kCompacted, "requested index is compacted");
}
Status Unavailable() {
  return Status::Error(Status::Code::kUnavailable, "requested entry is not yet available");
}
}  // namespace

MemoryStorage::MemoryStorage() : entries_(1) {}

InitialState MemoryStorage::GetInitialState() const {
  return {hard_state_, conf_state_};
}

uint64_t MemoryStorage::FirstIndex() const {
  return entries_[0].index + 1;
}
uint64_t MemoryStorage::LastIndex() const {
  return entries_[0].index + entries_.size() - 1;
}

Result<uint64_t> MemoryStorage::Term(uint64_t i) const {
  uint64_t offset = entries_[0].index;
  if (i < offset) return Compacted();
  if (i - offset >= entries_.size()) return Unavailable();
  return entries_[i - offset].term;
}

Result<std::vector<Entry>> MemoryStorage::Entries(uint64_t lo, uint64_t hi,
                                                  uint64_t max_bytes) const {
  uint64_t offset = entries_[0].index;
  if (lo <= offset) return Compacted();
  if (hi > LastIndex() + 1) return Unavailable();
  std::vector<Entry> out;
  out.reserve(std::min<uint64_t>(hi - lo, 1024));
  uint64_t bytes = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const Entry& e = entries_[i - offset];
    bytes += e.ByteSize();
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

Result<Snapshot> MemoryStorage::GetSnapshot() const {
  return snapshot_;
}

Status MemoryStorage::Append(const std::vector<Entry>& entries) {
  if (entries.empty()) return Status::Ok();
  uint64_t first = FirstIndex();
  uint64_t last = entries.back().index;
  if (last < first) return Status::Ok();  // all compacted already
  size_t skip = entries.front().index < first ? first - entries.front().index : 0;
  uint64_t start = entries[skip].index;
  if (start > LastIndex() + 1) {
    return Status::Error(Status::Code::kInvalidArgument, "append leaves a gap in the log");
  }
  // Truncate everything from `start` on, then append.
  entries_.resize(start - entries_[0].index);
  entries_.insert(entries_.end(), entries.begin() + static_cast<std::ptrdiff_t>(skip),
                  entries.end());
  return Status::Ok();
}

Status MemoryStorage::ApplySnapshot(const Snapshot& snapshot) {
  if (snapshot.metadata.index < snapshot_.metadata.index) return Compacted();
  snapshot_ = snapshot;
  entries_.assign(1,
                  Entry{snapshot.metadata.term, snapshot.metadata.index, EntryType::kNormal, {}});
  conf_state_ = snapshot.metadata.conf_state;
  return Status::Ok();
}

Result<Snapshot> MemoryStorage::CreateSnapshot(uint64_t i, const ConfState& cs, std::string data) {
  // Below the dummy the entry (and its term) is gone, even without a snapshot.
  if (i <= snapshot_.metadata.index || i < entries_[0].index) return Compacted();
  if (i > LastIndex()) return Unavailable();
  snapshot_.metadata.index = i;
  snapshot_.metadata.term = entries_[i - entries_[0].index].term;
  snapshot_.metadata.conf_state = cs;
  snapshot_.data = std::move(data);
  return snapshot_;
}

Status MemoryStorage::Compact(uint64_t i) {
  uint64_t offset = entries_[0].index;
  if (i <= offset) return Compacted();
  if (i > LastIndex()) return Unavailable();
  Entry dummy{entries_[i - offset].term, i, EntryType::kNormal, {}};
  entries_.erase(entries_.begin(), entries_.begin() + static_cast<std::ptrdiff_t>(i - offset));
  entries_[0] = dummy;
  return Status::Ok();
}

}  // namespace phalanx::consensus

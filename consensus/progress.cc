#include "consensus/progress.h"

#include <algorithm>

namespace phalanx::consensus {

void Inflights::Add(uint64_t index, uint64_t bytes) {
  window_.push_back({index, bytes});
  bytes_ += bytes;
}

void Inflights::FreeLE(uint64_t index) {
  while (!window_.empty() && window_.front().index <= index)
    FreeFirstOne();
}

void Inflights::FreeFirstOne() {
  if (window_.empty()) return;
  bytes_ -= window_.front().bytes;
  window_.pop_front();
}

bool Inflights::Full() const {
  return window_.size() >= max_count_ || (max_bytes_ != 0 && bytes_ >= max_bytes_);
}

void Inflights::Reset() {
  window_.clear();
  bytes_ = 0;
}

void Progress::BecomeProbe() {
  // After a snapshot, resume right after it: the follower holds everything up to it.
  if (state == State::kSnapshot) {
    next = std::max(match + 1, pending_snapshot + 1);
  } else {
    next = match + 1;
  }
  state = State::kProbe;
  pending_snapshot = 0;
  probe_sent = false;
  inflights.Reset();
}

void Progress::BecomeReplicate() {
  state = State::kReplicate;
  next = match + 1;
  pending_snapshot = 0;
  probe_sent = false;
  inflights.Reset();
}

void Progress::BecomeSnapshot(uint64_t snapshot_index) {
  state = State::kSnapshot;
  pending_snapshot = snapshot_index;
  probe_sent = false;
  inflights.Reset();
}

bool Progress::MaybeUpdate(uint64_t n) {
  bool updated = false;
  if (match < n) {
    match = n;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, n + 1);
  return updated;
}

bool Progress::MaybeDecrTo(uint64_t rejected, uint64_t match_hint) {
  if (state == State::kReplicate) {
    // Stale: the rejected append was already superseded by an acknowledgement.
    if (rejected <= match) return false;
    // Pipelining failed: restart optimistic sending right after the match.
    next = match + 1;
    return true;
  }
  // In probe, only the answer to the last probe (at next-1) matters.
  if (next == 0 || next - 1 != rejected) return false;
  next = std::max(std::min(rejected, match_hint + 1), match + 1);
  probe_sent = false;
  return true;
}

void Progress::SentEntries(uint64_t last_index, size_t count, uint64_t bytes) {
  switch (state) {
    case State::kReplicate:
      if (count > 0) {
        next = last_index + 1;
        inflights.Add(last_index, bytes);
      }
      break;
    case State::kProbe:
      probe_sent = true;
      break;
    case State::kSnapshot:
      break;
  }
}

bool Progress::IsPaused() const {
  switch (state) {
    case State::kProbe:
      return probe_sent;
    case State::kReplicate:
      return inflights.Full();
    case State::kSnapshot:
      return true;
  }
  return true;
}

const char* Progress::StateName() const {
  switch (state) {
    case State::kProbe:
      return "probe";
    case State::kReplicate:
      return "replicate";
    case State::kSnapshot:
      return "snapshot";
  }
  return "?";
}

}  // namespace phalanx::consensus

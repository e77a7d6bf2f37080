#include "engine/transport/send_queue.h"

namespace phalanx::transport::internal {

SendQueue::Admit SendQueue::Push(consensus::Message&& m, size_t size) {
  if (size > limits_.max_message_bytes) return Admit::kTooLarge;
  if (!items_.empty()) {
    if (items_.size() >= limits_.max_messages) return Admit::kFull;
    const size_t used = queued_bytes_ + in_flight_bytes_;
    if (used > limits_.max_bytes || size > limits_.max_bytes - used) return Admit::kFull;
  }
  queued_bytes_ += size;
  items_.emplace_back(std::move(m), size);
  return Admit::kQueued;
}

void SendQueue::TakeBatch(size_t max_messages, size_t max_bytes,
                          std::vector<consensus::Message>* out) {
  out->clear();
  size_t bytes = 0;
  while (!items_.empty() && out->size() < max_messages) {
    const size_t size = items_.front().second;
    if (!out->empty() && bytes + size > max_bytes) break;
    bytes += size;
    queued_bytes_ -= size;
    out->push_back(std::move(items_.front().first));
    items_.pop_front();
  }
  in_flight_bytes_ += bytes;
}

size_t SendQueue::Clear() {
  const size_t n = items_.size();
  items_.clear();
  queued_bytes_ = 0;
  return n;
}

}  // namespace phalanx::transport::internal

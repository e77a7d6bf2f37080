// The byte- and count-bounded FIFO behind one lane of a peer's sender (see
// peer_sender.h). Pure bookkeeping: no threads, no I/O, no locking — the
// owner guards it with its own mutex.
//
// Admission rule (Push), with `size` the message's encoded size bound
// (ApproximateSize):
//   - size > max_message_bytes: refused, kTooLarge (it could never be sent);
//   - nothing waiting in the queue: accepted, whatever the byte room left —
//     so any message up to max_message_bytes gets through once the backlog
//     has drained, even while a large batch is still being written;
//   - otherwise accepted only if the count stays <= max_messages and the
//     bytes queued plus the bytes in flight stay <= max_bytes; else kFull.
// Memory held: at most max(max_bytes, in-flight + max_message_bytes), which is
// <= max_bytes + max_message_bytes.
#pragma once

#include <cstddef>
#include <deque>
#include <utility>
#include <vector>

#include "consensus/types.h"

namespace phalanx::transport::internal {

class SendQueue {
 public:
  struct Limits {
    size_t max_messages = 0;
    size_t max_bytes = 0;
    size_t max_message_bytes = 0;
  };
  enum class Admit { kQueued, kFull, kTooLarge };

  explicit SendQueue(Limits limits) : limits_(limits) {}

  // Applies the admission rule; on kQueued takes `m` (moved), otherwise
  // leaves it untouched.
  Admit Push(consensus::Message&& m, size_t size);

  // Moves the oldest messages into *out (cleared first): as many as fit
  // max_messages and max_bytes, and always at least one when not empty. Their
  // bytes count as in flight until ReleaseInFlight().
  void TakeBatch(size_t max_messages, size_t max_bytes, std::vector<consensus::Message>* out);
  // The batch taken last was written (or lost): its bytes no longer count.
  void ReleaseInFlight() { in_flight_bytes_ = 0; }

  // Drops everything waiting (not what is in flight); returns how many.
  size_t Clear();

  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  size_t queued_bytes() const { return queued_bytes_; }
  size_t in_flight_bytes() const { return in_flight_bytes_; }
  // Something is waiting or being written.
  bool busy() const { return !items_.empty() || in_flight_bytes_ > 0; }

 private:
  const Limits limits_;
  std::deque<std::pair<consensus::Message, size_t>> items_;
  size_t queued_bytes_ = 0;
  size_t in_flight_bytes_ = 0;
};

}  // namespace phalanx::transport::internal

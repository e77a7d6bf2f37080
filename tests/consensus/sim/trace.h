// A ring of the simulation's most recent events, printed when a seed fails.
//
// Events are stored as small fixed records and formatted only when printed:
// a run executes millions of steps and fails almost never, so formatting each
// one as it happens would dominate the run time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "consensus/types.h"

namespace phalanx::consensus::sim {

enum class TraceKind : uint8_t {
  kDeliver,     // a message reached its destination
  kDrop,        // a message was lost (arg: 0 random, 1 partition, 2 node down)
  kTick,        // logical time advanced
  kCrash,       // node crashed (arg: where in its Ready cycle)
  kRestart,     // node restarted from its durable state
  kPartition,   // links changed (a: bitmask of one side; arg: 1 asymmetric)
  kHeal,        // every fault removed
  kPropose,     // a: node, index, term, arg: status code
  kConfChange,  // a: node, b: target, arg: type, index, commit: status code
  kTransfer,    // a: leader, b: transferee, arg: status code
  kReadIndex,   // a: node, index: request id, commit: bound
  kReadState,   // a: node, index: read index, commit: request id
  kSnapshot,    // a: node, index: snapshot index, commit: compacted to
  kRole,        // a: node, arg: role, term
  kApply,       // a: node, index: first, commit: last applied
  kCampaign,    // a: node
};

struct TraceEvent {
  uint64_t tick = 0;
  TraceKind kind = TraceKind::kTick;
  uint8_t msg_type = 0;
  uint8_t arg = 0;
  bool reject = false;
  uint64_t a = 0, b = 0;
  uint64_t term = 0, log_term = 0, index = 0, commit = 0;
  uint32_t entries = 0;
  uint64_t last_entry = 0;  // index of the last entry carried, or the snapshot index
};

class Trace {
 public:
  explicit Trace(size_t capacity = 400) : ring_(capacity) {}

  void Add(const TraceEvent& e) {
    ring_[next_ % ring_.size()] = e;
    ++next_;
    if (verbose_) Print(e);
  }
  // Also print every event to stderr as it happens (replaying one seed).
  void set_verbose(bool v) { verbose_ = v; }
  void Message(uint64_t tick, TraceKind kind, const consensus::Message& m, uint8_t arg = 0);
  void Clear() { next_ = 0; }

  // The last events, oldest first, one per line.
  std::string Dump() const;
  // Writes the dump to stderr without allocating (usable from a signal handler).
  void DumpToStderr() const;

 private:
  static void Print(const TraceEvent& e);

  std::vector<TraceEvent> ring_;
  uint64_t next_ = 0;
  bool verbose_ = false;
};

// Formats one event into buf (always NUL-terminated).
void FormatTraceEvent(const TraceEvent& e, char* buf, size_t size);

// While a seed runs, a consensus invariant abort (std::abort in the core)
// still prints the seed, the replay command and the trace.
struct CrashContext {
  const Trace* trace = nullptr;
  const char* scenario = "";
  uint64_t seed = 0;
};
void InstallAbortHandler();
void SetCrashContext(const CrashContext& ctx);

}  // namespace phalanx::consensus::sim

#include "tests/consensus/sim/trace.h"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "consensus/raft.h"

namespace phalanx::consensus::sim {

namespace {

const char* DropReason(uint8_t arg) {
  switch (arg) {
    case 0:
      return "random";
    case 1:
      return "partition";
    case 2:
      return "node down";
  }
  return "?";
}

const char* CrashPoint(uint8_t arg) {
  switch (arg) {
    case 0:
      return "between steps";
    case 1:
      return "before persisting a Ready";
    case 2:
      return "after persisting, before sending";
    case 3:
      return "in the middle of applying";
    case 4:
      return "before Advance";
  }
  return "?";
}

const char* ConfChangeName(uint8_t arg) {
  switch (arg) {
    case 0:
      return "add-learner";
    case 1:
      return "add-voter";
    case 2:
      return "remove";
  }
  return "?";
}

}  // namespace

void Trace::Message(uint64_t tick, TraceKind kind, const consensus::Message& m, uint8_t arg) {
  TraceEvent e;
  e.tick = tick;
  e.kind = kind;
  e.msg_type = static_cast<uint8_t>(m.type);
  e.arg = arg;
  e.reject = m.reject;
  e.a = m.from;
  e.b = m.to;
  e.term = m.term;
  e.log_term = m.log_term;
  e.index = m.index;
  e.commit = m.commit;
  e.entries = static_cast<uint32_t>(m.entries.size());
  if (!m.entries.empty()) e.last_entry = m.entries.back().index;
  if (m.snapshot) e.last_entry = m.snapshot->metadata.index;
  if (m.type == MessageType::kHeartbeat || m.type == MessageType::kHeartbeatResp) {
    e.last_entry = m.read_round;
  }
  if (m.type == MessageType::kAppResp) e.last_entry = m.reject_hint;
  Add(e);
}

void FormatTraceEvent(const TraceEvent& e, char* buf, size_t size) {
  auto ull = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  int n = std::snprintf(buf, size, "t=%-5llu ", ull(e.tick));
  if (n < 0 || static_cast<size_t>(n) >= size) return;
  char* p = buf + n;
  size_t left = size - static_cast<size_t>(n);
  auto type = static_cast<MessageType>(e.msg_type);
  switch (e.kind) {
    case TraceKind::kDeliver:
    case TraceKind::kDrop:
      n = std::snprintf(p, left, "%s %llu->%llu %s term=%llu log=%llu/%llu commit=%llu%s",
                        e.kind == TraceKind::kDeliver ? "deliver" : "DROP", ull(e.a), ull(e.b),
                        MessageTypeName(type), ull(e.term), ull(e.log_term), ull(e.index),
                        ull(e.commit), e.reject ? " reject" : "");
      if (n > 0 && static_cast<size_t>(n) < left) {
        p += n;
        left -= static_cast<size_t>(n);
        if (type == MessageType::kSnap) {
          std::snprintf(p, left, " snap@%llu", ull(e.last_entry));
        } else if (type == MessageType::kHeartbeat || type == MessageType::kHeartbeatResp) {
          std::snprintf(p, left, " round=%llu", ull(e.last_entry));
        } else if (type == MessageType::kAppResp && e.reject) {
          std::snprintf(p, left, " hint=%llu", ull(e.last_entry));
        } else if (e.entries > 0) {
          std::snprintf(p, left, " entries=%u..%llu", e.entries, ull(e.last_entry));
        }
        if (e.kind == TraceKind::kDrop) {
          size_t used = std::strlen(buf);
          std::snprintf(buf + used, size - used, " (%s)", DropReason(e.arg));
        }
      }
      break;
    case TraceKind::kTick:
      std::snprintf(p, left, "tick");
      break;
    case TraceKind::kCrash:
      std::snprintf(p, left, "CRASH node %llu %s", ull(e.a), CrashPoint(e.arg));
      break;
    case TraceKind::kRestart:
      std::snprintf(p, left, "restart node %llu (applied=%llu)", ull(e.a), ull(e.index));
      break;
    case TraceKind::kPartition:
      std::snprintf(p, left, "partition %s side=0x%llx", e.arg ? "one-way" : "two-way", ull(e.a));
      break;
    case TraceKind::kHeal:
      std::snprintf(p, left, "heal all faults");
      break;
    case TraceKind::kPropose:
      std::snprintf(p, left, "propose at %llu -> code=%u index=%llu term=%llu", ull(e.a), e.arg,
                    ull(e.index), ull(e.term));
      break;
    case TraceKind::kConfChange:
      std::snprintf(p, left, "conf change at %llu: %s %llu -> code=%llu index=%llu", ull(e.a),
                    ConfChangeName(e.arg), ull(e.b), ull(e.commit), ull(e.index));
      break;
    case TraceKind::kTransfer:
      std::snprintf(p, left, "transfer leadership %llu -> %llu code=%u", ull(e.a), ull(e.b), e.arg);
      break;
    case TraceKind::kReadIndex:
      std::snprintf(p, left, "read-index at %llu id=%llu bound=%llu code=%u", ull(e.a),
                    ull(e.index), ull(e.commit), e.arg);
      break;
    case TraceKind::kReadState:
      std::snprintf(p, left, "read-state at %llu index=%llu id=%llu", ull(e.a), ull(e.index),
                    ull(e.commit));
      break;
    case TraceKind::kSnapshot:
      std::snprintf(p, left, "snapshot node %llu at %llu, compacted to %llu", ull(e.a),
                    ull(e.index), ull(e.commit));
      break;
    case TraceKind::kRole:
      std::snprintf(p, left, "node %llu is %s term=%llu commit=%llu last=%llu", ull(e.a),
                    RoleName(static_cast<Role>(e.arg)), ull(e.term), ull(e.commit), ull(e.index));
      break;
    case TraceKind::kApply:
      std::snprintf(p, left, "node %llu applied %llu..%llu", ull(e.a), ull(e.index), ull(e.commit));
      break;
    case TraceKind::kCampaign:
      std::snprintf(p, left, "campaign at %llu", ull(e.a));
      break;
  }
}

void Trace::Print(const TraceEvent& e) {
  char buf[256];
  FormatTraceEvent(e, buf, sizeof buf);
  std::fprintf(stderr, "%s\n", buf);
}

std::string Trace::Dump() const {
  std::string out;
  uint64_t n = std::min<uint64_t>(next_, ring_.size());
  char buf[256];
  for (uint64_t i = next_ - n; i < next_; ++i) {
    FormatTraceEvent(ring_[i % ring_.size()], buf, sizeof buf);
    out += "  ";
    out += buf;
    out += '\n';
  }
  return out;
}

void Trace::DumpToStderr() const {
  uint64_t n = std::min<uint64_t>(next_, ring_.size());
  char buf[256];
  for (uint64_t i = next_ - n; i < next_; ++i) {
    FormatTraceEvent(ring_[i % ring_.size()], buf, sizeof buf - 1);
    size_t len = std::strlen(buf);
    buf[len++] = '\n';
    (void)!write(STDERR_FILENO, buf, len);
  }
}

namespace {
CrashContext g_crash_context;

void OnAbort(int sig) {
  char buf[512];
  int n = std::snprintf(
      buf, sizeof buf,
      "\n*** consensus aborted (signal %d) in scenario %s, seed %llu\n"
      "*** replay: PHALANX_SIM_SEED=%llu "
      "./build/tests/consensus/simulation_test --gtest_filter='*%s*'\n"
      "*** last events:\n",
      sig, g_crash_context.scenario, static_cast<unsigned long long>(g_crash_context.seed),
      static_cast<unsigned long long>(g_crash_context.seed), g_crash_context.scenario);
  if (n > 0) (void)!write(STDERR_FILENO, buf, static_cast<size_t>(n));
  if (g_crash_context.trace != nullptr) g_crash_context.trace->DumpToStderr();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}
}  // namespace

void InstallAbortHandler() {
  std::signal(SIGABRT, OnAbort);
}
void SetCrashContext(const CrashContext& ctx) {
  g_crash_context = ctx;
}

}  // namespace phalanx::consensus::sim

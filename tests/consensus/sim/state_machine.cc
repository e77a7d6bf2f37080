#include "tests/consensus/sim/state_machine.h"

#include <cstdlib>
#include <cstring>

namespace phalanx::consensus::sim {

namespace {
uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdull;
}

void PutU64(std::string& out, uint64_t v) {
  char b[8];
  std::memcpy(b, &v, 8);
  out.append(b, 8);
}
uint64_t GetU64(const std::string& in, size_t pos) {
  uint64_t v;
  std::memcpy(&v, in.data() + pos, 8);
  return v;
}
}  // namespace

uint64_t EntryContentHash(const Entry& e) {
  // FNV-1a over 8-byte words, then the tail bytes: payloads run to megabytes
  // (the LargeEntries scenario) and every node hashes every entry it applies.
  const std::string& d = e.data.str();
  uint64_t h = 1469598103934665603ull;
  size_t i = 0;
  for (; i + 8 <= d.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, d.data() + i, 8);
    h = (h ^ w) * 1099511628211ull;
    h ^= h >> 32;  // carry high bits down, or they would never reach the low ones
  }
  for (; i < d.size(); ++i) {
    h = (h ^ static_cast<unsigned char>(d[i])) * 1099511628211ull;
  }
  return Mix(Mix(h, d.size()), static_cast<uint64_t>(e.type));
}

void StateMachine::Apply(const Entry& e) {
  if (e.index != applied_ + 1) std::abort();  // the harness checks this before calling
  applied_ = e.index;
  digest_ = Mix(Mix(Mix(digest_, e.index), e.term), EntryContentHash(e));
  if (e.type == EntryType::kNormal && !e.data.empty()) ++commands_;
}

std::string StateMachine::Serialize() const {
  std::string out;
  PutU64(out, applied_);
  PutU64(out, digest_);
  PutU64(out, commands_);
  return out;
}

std::string StateMachine::InitialData(uint64_t index) {
  StateMachine sm;
  sm.applied_ = index;
  return sm.Serialize();
}

bool StateMachine::Restore(const std::string& data, uint64_t index, const ConfState& cs) {
  if (data.size() != 24 || GetU64(data, 0) != index) return false;
  applied_ = index;
  digest_ = GetU64(data, 8);
  commands_ = GetU64(data, 16);
  conf_state_ = cs;
  return true;
}

}  // namespace phalanx::consensus::sim

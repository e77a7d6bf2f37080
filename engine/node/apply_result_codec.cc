#include "engine/node/apply_result_codec.h"

namespace phalanx::node {

using storage::ApplyResult;

std::string EncodeApplyResult(const ApplyResult& r) {
  std::string out;
  out.reserve(9 + r.bytes.size());
  out.push_back(static_cast<char>(r.type));
  auto v = static_cast<uint64_t>(r.integer);
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  out += r.bytes;
  return out;
}

ApplyResult DecodeApplyResult(const std::string& bytes) {
  if (bytes.size() < 9 ||
      static_cast<uint8_t>(bytes[0]) > static_cast<uint8_t>(ApplyResult::Type::kError)) {
    return ApplyResult::Error("ERR internal: malformed result from the leader");
  }
  ApplyResult r;
  r.type = static_cast<ApplyResult::Type>(bytes[0]);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[1 + i])) << (8 * i);
  r.integer = static_cast<int64_t>(v);
  r.bytes = bytes.substr(9);
  return r;
}

}  // namespace phalanx::node

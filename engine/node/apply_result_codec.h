// Wire form of storage::ApplyResult for forwarded proposals: a follower gets
// the leader's results back as bytes. type(1) | integer(8, little endian) | bytes.
#pragma once

#include <string>

#include "engine/storage/command.h"

namespace phalanx::node {

std::string EncodeApplyResult(const storage::ApplyResult& r);
// Malformed input decodes to an error result, never a crash.
storage::ApplyResult DecodeApplyResult(const std::string& bytes);

}  // namespace phalanx::node

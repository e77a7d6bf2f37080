// CRC-32C (Castagnoli), software, for checking that a streamed snapshot
// arrived whole. Internal to the transport.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace phalanx::transport::internal {

// Extends `crc` (0 for the empty string) with `data`. Pure; thread-safe.
uint32_t Crc32cExtend(uint32_t crc, std::string_view data);

}  // namespace phalanx::transport::internal

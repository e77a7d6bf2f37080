// The wire encoding of membership packets: one packet per UDP datagram.
//
// Layout (version 1), all integers big-endian, every string a length byte
// followed by that many bytes (so no string exceeds kMaxStringLength):
//
//   'S' 'W' version:u8 type:u8 cluster_id:str from_id:str
//   kPing:      seq:u32 target_id:str
//   kPingReq:   seq:u32 target_id:str target_address:str
//   kAck/kNack: seq:u32
//   kPushPull:  flags:u8 (bit 0: reply wanted)
//   kGossip:    (nothing)
//   count:u16, then count updates:
//     kind:u8 id:str incarnation:u64
//     kAlive:            address:str resp_address:str raft_address:str
//     kSuspect, kDead:   from:str
//     kLeft:             (nothing)
//
// Decoding checks every length against the bytes actually present and
// returns an error for anything malformed (bad magic, unknown version, type
// or kind, truncation, trailing bytes, empty ids); it never reads out of
// bounds and never throws. The sizes below let the core fill packets up to
// Config::max_packet_bytes without encoding twice.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "membership/types.h"

namespace phalanx::membership::codec {

inline constexpr uint8_t kVersion = 1;
// The largest payload of one IPv4 UDP datagram; nothing larger can arrive.
inline constexpr size_t kMaxDatagram = 65507;

// Bytes `packet` takes on the wire.
size_t EncodedSize(const Packet& packet);
// Bytes `packet` takes without its updates (the update count included).
size_t HeaderSize(const Packet& packet);
// Bytes one update adds to a packet.
size_t UpdateSize(const Update& update);

// Strings longer than kMaxStringLength cannot be encoded: an error, not a
// truncation. The core never produces such packets (Config::Validate and
// the update filter see to it).
Result<std::string> Encode(const Packet& packet);
Result<Packet> Decode(std::string_view bytes);

}  // namespace phalanx::membership::codec

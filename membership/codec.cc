#include "membership/codec.h"

namespace phalanx::membership::codec {

namespace {

constexpr uint8_t kMagic0 = 'S';
constexpr uint8_t kMagic1 = 'W';
constexpr uint8_t kFlagReplyWanted = 0x01;

size_t StrSize(const std::string& s) {
  return 1 + s.size();
}

bool HasSeq(PacketType t) {
  return t == PacketType::kPing || t == PacketType::kPingReq || t == PacketType::kAck ||
         t == PacketType::kNack;
}

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v) {
    U8(static_cast<uint8_t>(v >> 8));
    U8(static_cast<uint8_t>(v));
  }
  void U32(uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
      U8(static_cast<uint8_t>(v >> shift));
  }
  void U64(uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8)
      U8(static_cast<uint8_t>(v >> shift));
  }
  bool Str(const std::string& s) {
    if (s.size() > kMaxStringLength) return false;
    U8(static_cast<uint8_t>(s.size()));
    out_ += s;
    return true;
  }
  std::string Take() { return std::move(out_); }
  void Reserve(size_t n) { out_.reserve(n); }

 private:
  std::string out_;
};

// Every read checks the remaining length first; after the first failure all
// reads fail, so a decoder can check once at the end of a group of reads.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U8(uint8_t* v) {
    if (!ok_ || in_.size() - pos_ < 1) return ok_ = false;
    *v = static_cast<uint8_t>(in_[pos_++]);
    return true;
  }
  bool U16(uint16_t* v) {
    uint64_t x;
    if (!Uint(2, &x)) return false;
    *v = static_cast<uint16_t>(x);
    return true;
  }
  bool U32(uint32_t* v) {
    uint64_t x;
    if (!Uint(4, &x)) return false;
    *v = static_cast<uint32_t>(x);
    return true;
  }
  bool U64(uint64_t* v) { return Uint(8, v); }
  bool Str(std::string* s) {
    uint8_t len;
    if (!U8(&len)) return false;
    if (in_.size() - pos_ < len) return ok_ = false;
    s->assign(in_.data() + pos_, len);
    pos_ += len;
    return true;
  }
  bool ok() const { return ok_; }
  size_t remaining() const { return in_.size() - pos_; }

 private:
  bool Uint(size_t n, uint64_t* v) {
    if (!ok_ || in_.size() - pos_ < n) return ok_ = false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; ++i)
      x = (x << 8) | static_cast<uint8_t>(in_[pos_ + i]);
    pos_ += n;
    *v = x;
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

bool EncodeUpdate(const Update& u, Writer* w) {
  w->U8(static_cast<uint8_t>(u.kind));
  if (!w->Str(u.id)) return false;
  w->U64(u.incarnation);
  switch (u.kind) {
    case Update::Kind::kAlive:
      return w->Str(u.address) && w->Str(u.resp_address) && w->Str(u.raft_address);
    case Update::Kind::kSuspect:
    case Update::Kind::kDead:
      return w->Str(u.from);
    case Update::Kind::kLeft:
      return true;
  }
  return false;
}

Status DecodeUpdate(Reader* r, Update* u) {
  uint8_t kind;
  if (!r->U8(&kind)) return Status::Error("truncated update");
  if (kind < 1 || kind > 4) return Status::Error("unknown update kind " + std::to_string(kind));
  u->kind = static_cast<Update::Kind>(kind);
  r->Str(&u->id);
  r->U64(&u->incarnation);
  switch (u->kind) {
    case Update::Kind::kAlive:
      r->Str(&u->address);
      r->Str(&u->resp_address);
      r->Str(&u->raft_address);
      break;
    case Update::Kind::kSuspect:
    case Update::Kind::kDead:
      r->Str(&u->from);
      break;
    case Update::Kind::kLeft:
      break;
  }
  if (!r->ok()) return Status::Error("truncated update");
  if (u->id.empty()) return Status::Error("update with an empty id");
  return Status::Ok();
}

}  // namespace

size_t UpdateSize(const Update& u) {
  size_t n = 1 + StrSize(u.id) + 8;
  switch (u.kind) {
    case Update::Kind::kAlive:
      n += StrSize(u.address) + StrSize(u.resp_address) + StrSize(u.raft_address);
      break;
    case Update::Kind::kSuspect:
    case Update::Kind::kDead:
      n += StrSize(u.from);
      break;
    case Update::Kind::kLeft:
      break;
  }
  return n;
}

size_t HeaderSize(const Packet& p) {
  size_t n = 4 + StrSize(p.cluster_id) + StrSize(p.from_id);
  if (HasSeq(p.type)) n += 4;
  if (p.type == PacketType::kPing) n += StrSize(p.target_id);
  if (p.type == PacketType::kPingReq) n += StrSize(p.target_id) + StrSize(p.target_address);
  if (p.type == PacketType::kPushPull) n += 1;
  return n + 2;  // update count
}

size_t EncodedSize(const Packet& p) {
  size_t n = HeaderSize(p);
  for (const Update& u : p.updates)
    n += UpdateSize(u);
  return n;
}

Result<std::string> Encode(const Packet& p) {
  if (p.updates.size() > 0xffff) return Status::Error("too many updates in one packet");
  Writer w;
  w.Reserve(EncodedSize(p));
  w.U8(kMagic0);
  w.U8(kMagic1);
  w.U8(kVersion);
  w.U8(static_cast<uint8_t>(p.type));
  bool ok = w.Str(p.cluster_id) && w.Str(p.from_id);
  if (HasSeq(p.type)) w.U32(p.seq);
  switch (p.type) {
    case PacketType::kPing:
      ok = ok && w.Str(p.target_id);
      break;
    case PacketType::kPingReq:
      ok = ok && w.Str(p.target_id) && w.Str(p.target_address);
      break;
    case PacketType::kPushPull:
      w.U8(p.reply_wanted ? kFlagReplyWanted : 0);
      break;
    case PacketType::kAck:
    case PacketType::kNack:
    case PacketType::kGossip:
      break;
  }
  w.U16(static_cast<uint16_t>(p.updates.size()));
  for (const Update& u : p.updates)
    ok = ok && EncodeUpdate(u, &w);
  if (!ok) return Status::Error("a string exceeds " + std::to_string(kMaxStringLength) + " bytes");
  return w.Take();
}

Result<Packet> Decode(std::string_view bytes) {
  if (bytes.size() > kMaxDatagram) return Status::Error("packet larger than a datagram");
  Reader r(bytes);
  uint8_t m0, m1, version, type;
  if (!r.U8(&m0) || !r.U8(&m1) || m0 != kMagic0 || m1 != kMagic1) {
    return Status::Error("bad magic");
  }
  if (!r.U8(&version)) return Status::Error("truncated header");
  if (version != kVersion) return Status::Error("unsupported version " + std::to_string(version));
  if (!r.U8(&type)) return Status::Error("truncated header");
  if (type < 1 || type > 6) return Status::Error("unknown packet type " + std::to_string(type));
  Packet p;
  p.type = static_cast<PacketType>(type);
  r.Str(&p.cluster_id);
  r.Str(&p.from_id);
  if (HasSeq(p.type)) r.U32(&p.seq);
  if (p.type == PacketType::kPing) r.Str(&p.target_id);
  if (p.type == PacketType::kPingReq) {
    r.Str(&p.target_id);
    r.Str(&p.target_address);
  }
  if (p.type == PacketType::kPushPull) {
    uint8_t flags = 0;
    r.U8(&flags);
    if (r.ok() && (flags & ~kFlagReplyWanted) != 0) return Status::Error("unknown flags");
    p.reply_wanted = (flags & kFlagReplyWanted) != 0;
  }
  uint16_t count = 0;
  r.U16(&count);
  if (!r.ok()) return Status::Error("truncated header");
  if (p.cluster_id.empty() || p.from_id.empty()) return Status::Error("empty cluster or sender id");
  if (p.type == PacketType::kPingReq && (p.target_id.empty() || p.target_address.empty())) {
    return Status::Error("indirect probe without a target");
  }
  // Each update takes at least 11 bytes: refuse a count the bytes cannot
  // hold before reserving anything for it.
  if (static_cast<size_t>(count) * 11 > r.remaining()) return Status::Error("truncated updates");
  p.updates.resize(count);
  for (Update& u : p.updates) {
    Status s = DecodeUpdate(&r, &u);
    if (!s.ok()) return s;
  }
  if (r.remaining() != 0) return Status::Error("trailing bytes");
  return p;
}

}  // namespace phalanx::membership::codec

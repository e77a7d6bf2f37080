// ReplyBuilder: encodes RESP2 or RESP3 replies, byte for byte as Redis 7
// writes them (networking.c's addReply* family).
//
// RESP2 has no map, set, null, double, boolean or verbatim types; the builder
// maps each to what Redis sends a RESP2 client: a map of n pairs becomes a flat
// array of 2n elements, a set an array, null "$-1" (bulk) or "*-1" (array), a
// double a bulk string ("%.17g"), a boolean ":1"/":0", a verbatim string a
// bulk string without its "txt:" prefix.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace phalanx::resp {

class ReplyBuilder {
 public:
  // Appends to *out, in protocol version `proto` (2 or 3).
  ReplyBuilder(std::string* out, int proto) : out_(out), proto_(proto) {}

  int proto() const { return proto_; }
  std::string* buffer() { return out_; }

  void SimpleString(std::string_view s);  // "+s"
  void Ok() { SimpleString("OK"); }
  // `text` is the whole error line without the leading '-': "ERR syntax error",
  // "WRONGPASS ...". CR and LF become spaces, as addReplyErrorFormat does.
  void Error(std::string_view text);
  void Integer(int64_t v);  // ":v"
  void Bulk(std::string_view s);
  void Null();       // RESP2 "$-1", RESP3 "_"
  void NullArray();  // RESP2 "*-1", RESP3 "_"
  void ArrayHeader(size_t n);
  void MapHeader(size_t pairs);  // RESP2 "*2n", RESP3 "%n"
  void SetHeader(size_t n);      // RESP2 "*n", RESP3 "~n"
  void Double(double d);         // RESP2 bulk "%.17g", RESP3 ",..."
  void Bool(bool b);             // RESP2 ":1"/":0", RESP3 "#t"/"#f"
  // RESP3 "=len\r\ntxt:..." (Redis's addReplyVerbatim); RESP2 a bulk string.
  void Verbatim(std::string_view s, std::string_view ext = "txt");
  // Bytes already in RESP form.
  void Raw(std::string_view bytes) { out_->append(bytes); }

 private:
  void Prefixed(char prefix, int64_t n);

  std::string* out_;
  int proto_;
};

// Converts a RESP3 reply (as ReplyBuilder would write it for proto 3) into
// the RESP2 bytes ReplyBuilder writes for proto 2. Used for replies kept as
// RESP3 data (the command docs). Returns false on malformed input.
bool Resp3ToResp2(std::string_view resp3, std::string* out);

}  // namespace phalanx::resp

#include "resp/reply.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace phalanx::resp {

void ReplyBuilder::Prefixed(char prefix, int64_t n) {
  char buf[32];
  buf[0] = prefix;
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof(buf) - 2, n);
  (void)ec;
  *end++ = '\r';
  *end++ = '\n';
  out_->append(buf, static_cast<size_t>(end - buf));
}

void ReplyBuilder::SimpleString(std::string_view s) {
  out_->push_back('+');
  out_->append(s);
  out_->append("\r\n");
}

void ReplyBuilder::Error(std::string_view text) {
  out_->push_back('-');
  size_t start = out_->size();
  out_->append(text);
  for (size_t i = start; i < out_->size(); ++i) {
    if ((*out_)[i] == '\r' || (*out_)[i] == '\n') (*out_)[i] = ' ';
  }
  out_->append("\r\n");
}

void ReplyBuilder::Integer(int64_t v) {
  Prefixed(':', v);
}

void ReplyBuilder::Bulk(std::string_view s) {
  Prefixed('$', static_cast<int64_t>(s.size()));
  out_->append(s);
  out_->append("\r\n");
}

void ReplyBuilder::Null() {
  out_->append(proto_ == 2 ? "$-1\r\n" : "_\r\n");
}

void ReplyBuilder::NullArray() {
  out_->append(proto_ == 2 ? "*-1\r\n" : "_\r\n");
}

void ReplyBuilder::ArrayHeader(size_t n) {
  Prefixed('*', static_cast<int64_t>(n));
}

void ReplyBuilder::MapHeader(size_t pairs) {
  if (proto_ == 2) {
    Prefixed('*', static_cast<int64_t>(pairs * 2));
  } else {
    Prefixed('%', static_cast<int64_t>(pairs));
  }
}

void ReplyBuilder::SetHeader(size_t n) {
  Prefixed(proto_ == 2 ? '*' : '~', static_cast<int64_t>(n));
}

void ReplyBuilder::Double(double d) {
  char buf[128];
  if (proto_ == 2) {
    int len = snprintf(buf, sizeof(buf), "%.17g", d);
    Bulk(std::string_view(buf, static_cast<size_t>(len)));
    return;
  }
  // Redis 7.0 addReplyDouble for RESP3.
  if (std::isinf(d)) {
    out_->append(d > 0 ? ",inf\r\n" : ",-inf\r\n");
    return;
  }
  int len = snprintf(buf, sizeof(buf), ",%.17g\r\n", d);
  out_->append(buf, static_cast<size_t>(len));
}

void ReplyBuilder::Bool(bool b) {
  if (proto_ == 2) {
    out_->append(b ? ":1\r\n" : ":0\r\n");
  } else {
    out_->append(b ? "#t\r\n" : "#f\r\n");
  }
}

void ReplyBuilder::Verbatim(std::string_view s, std::string_view ext) {
  if (proto_ == 2) {
    Bulk(s);
    return;
  }
  Prefixed('=', static_cast<int64_t>(s.size() + ext.size() + 1));
  out_->append(ext);
  out_->push_back(':');
  out_->append(s);
  out_->append("\r\n");
}

namespace {

// One RESP3 value at *in, appended to *out as RESP2.
bool Convert(std::string_view* in, std::string* out, int depth) {
  if (depth > 32 || in->empty()) return false;
  size_t eol = in->find("\r\n");
  if (eol == std::string_view::npos) return false;
  char type = (*in)[0];
  std::string_view line = in->substr(1, eol - 1);
  in->remove_prefix(eol + 2);
  auto count = [&](int64_t* n) {
    auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), *n);
    return ec == std::errc() && p == line.data() + line.size() && *n >= 0;
  };
  ReplyBuilder rb(out, 2);
  int64_t n = 0;
  switch (type) {
    case '+':
    case '-':
    case ':':
      out->push_back(type);
      out->append(line);
      out->append("\r\n");
      return true;
    case '_':
      rb.Null();
      return true;
    case '#':
      rb.Bool(line == "t");
      return true;
    case ',':
      rb.Bulk(line);
      return true;
    case '$':
    case '=': {
      if (!count(&n) || in->size() < static_cast<size_t>(n) + 2) return false;
      std::string_view body = in->substr(0, static_cast<size_t>(n));
      in->remove_prefix(static_cast<size_t>(n) + 2);
      if (type == '=') {
        if (body.size() < 4) return false;
        body.remove_prefix(4);
      }
      rb.Bulk(body);
      return true;
    }
    case '*':
    case '~':
    case '%': {
      if (!count(&n)) return false;
      int64_t elems = type == '%' ? n * 2 : n;
      rb.ArrayHeader(static_cast<size_t>(elems));
      for (int64_t i = 0; i < elems; ++i) {
        if (!Convert(in, out, depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

}  // namespace

bool Resp3ToResp2(std::string_view resp3, std::string* out) {
  while (!resp3.empty()) {
    if (!Convert(&resp3, out, 0)) return false;
  }
  return true;
}

}  // namespace phalanx::resp

// Errors as values: the one Status/Result mechanism, with each module's own codes.
//
// A module declares its codes as an enum class whose zero value is kOk and
// derives its Status from StatusBase:
//
//   enum class StatusCode : uint8_t { kOk = 0, kNotFound, kIoError };
//   class Status : public util::StatusBase<Status, StatusCode> { ... };
//   template <typename T> using Result = util::Result<T, Status>;
//
// StatusBase supplies Ok(), Error(code, message), ok(), code(), message() and
// the nested name Status::Code; the module adds what is its own (named
// factories, a leader hint, ToString). Each module's Status is a type of its
// own, so a module edge returns its module's errors and every translation
// between modules is written out (e.g. storage::Status::ToConsensus).
//
// A module without codes uses MessageStatus<Tag>: OK, or an error with a
// non-empty one-line message.
//
// Values only: copyable, movable, no global state; not synchronized (like
// std::string).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace phalanx::util {

// Derived: the module's Status (CRTP). CodeEnum: its codes; CodeEnum::kOk == 0.
template <typename Derived, typename CodeEnum>
class StatusBase {
 public:
  using Code = CodeEnum;

  static Derived Ok() { return Derived(); }
  // An error with `code` (kOk makes an OK status) and a human-readable message.
  static Derived Error(Code code, std::string message) {
    Derived s;
    StatusBase& base = s;
    base.code_ = code;
    base.message_ = std::move(message);
    return s;
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // Empty when ok (unless the module sets one); otherwise what went wrong.
  const std::string& message() const { return message_; }

 protected:
  StatusBase() = default;

  Code code_ = Code::kOk;
  std::string message_;
};

// The codes of a status that only says whether something failed.
enum class MessageCode : uint8_t { kOk = 0, kError };

// A Status for a module with no codes of its own. Tag (any type) makes each
// module's MessageStatus a distinct type.
template <typename Tag>
class MessageStatus : public StatusBase<MessageStatus<Tag>, MessageCode> {
  using Base = StatusBase<MessageStatus<Tag>, MessageCode>;

 public:
  MessageStatus() = default;
  // An error; an empty message becomes "error", so message() names every failure.
  static MessageStatus Error(std::string message) {
    return Base::Error(MessageCode::kError,
                       message.empty() ? std::string("error") : std::move(message));
  }
};

// A value, or the Status S that explains its absence. S needs a static Ok().
template <typename T, typename S>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}    // NOLINT: implicit by design
  Result(S status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  // Only when ok().
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  // S::Ok() when ok(); otherwise the error it was made from.
  S status() const { return ok() ? S::Ok() : std::get<S>(v_); }

 private:
  std::variant<T, S> v_;
};

}  // namespace phalanx::util

// Runs closures on a thread of its own, in the order they were posted. The
// transport uses it for work that must happen on a transport thread but has
// no thread of its own to run on: telling the handler that Send dropped
// messages (Send itself must never call the handler), and failing a call
// before it was sent (its callback must not run inside the call). Internal to
// the transport.
//
// Thread-safe. The thread starts on the first Post. Closures must not call
// Close() (it joins the thread).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace phalanx::transport::internal {

class Dispatcher {
 public:
  Dispatcher() = default;
  // Calls Close().
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Queues `fn`; false once closed (fn is then never run).
  bool Post(std::function<void()> fn);

  // Refuses new closures, runs every one already posted, and joins the
  // thread. Idempotent. Not from inside a closure.
  void Close();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool closed_ = false;
  std::thread thread_;
};

}  // namespace phalanx::transport::internal

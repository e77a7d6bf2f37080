#include "engine/transport/dispatcher.h"

#include <utility>

namespace phalanx::transport::internal {

Dispatcher::~Dispatcher() {
  Close();
}

bool Dispatcher::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    queue_.push_back(std::move(fn));
    if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
  }
  cv_.notify_one();
  return true;
}

void Dispatcher::Close() {
  std::thread thread;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    thread = std::move(thread_);
  }
  cv_.notify_one();
  if (thread.joinable()) thread.join();
}

void Dispatcher::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return closed_ || !queue_.empty(); });
    if (queue_.empty()) return;  // closed and drained
    std::function<void()> fn = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    fn();
    fn = nullptr;  // its captures go before the next one runs
    lock.lock();
  }
}

}  // namespace phalanx::transport::internal

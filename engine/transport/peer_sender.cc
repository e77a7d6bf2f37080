#include "engine/transport/peer_sender.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "engine/transport/codec.h"
#include "engine/transport/grpc_glue.h"

namespace phalanx::transport::internal {

PeerSender::PeerSender(Config config)
    : config_(std::move(config)), backoff_(config_.options->initial_backoff) {}

PeerSender::~PeerSender() {
  Stop();
}

void PeerSender::Start() {
  thread_ = std::thread([this] { Run(); });
}

size_t PeerSender::Enqueue(std::vector<consensus::Message>* msgs) {
  const TransportOptions& o = *config_.options;
  size_t dropped = 0;
  size_t oversized = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& m : *msgs) {
      const size_t size = ApproximateSize(m);
      if (stopping_) {
        ++dropped;
      } else if (size > o.max_message_bytes) {
        ++oversized;
      } else if (queue_.size() >= o.max_queue_messages ||
                 queued_bytes_ + size > o.max_queue_bytes) {
        ++dropped;
      } else {
        queued_bytes_ += size;
        queue_.push_back(std::move(m));
      }
    }
    stats_.dropped_messages += dropped + oversized;
  }
  cv_.notify_one();
  uint64_t suppressed = 0;
  if (oversized > 0 &&
      config_.limiter->Allow("oversized/" + std::to_string(config_.peer), &suppressed)) {
    config_.logger->error(
        "transport: dropped {} Raft message(s) to peer {} larger than max_message_bytes ({} B){}",
        oversized, config_.peer, o.max_message_bytes, SuppressedNote(suppressed));
  }
  if (dropped > 0 &&
      config_.limiter->Allow("queue-full/" + std::to_string(config_.peer), &suppressed)) {
    config_.logger->warn(
        "transport: send queue to peer {} ({}) is full, dropped {} message(s); the peer is slow "
        "or unreachable{}",
        config_.peer, config_.address, dropped, SuppressedNote(suppressed));
  }
  return dropped + oversized;
}

void PeerSender::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (active_ctx_ != nullptr) active_ctx_->TryCancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  stats_.dropped_messages += queue_.size();
  queue_.clear();
  queued_bytes_ = 0;
  stats_.connected = false;
}

PeerStats PeerSender::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  PeerStats s = stats_;
  s.queued_messages = queue_.size();
  return s;
}

void PeerSender::Run() {
  const TransportOptions& o = *config_.options;
  const pb::Envelope envelope = MakeEnvelope(config_.cluster_id, config_.self, config_.peer);
  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<grpc::ClientWriter<pb::MessageBatch>> writer;
  pb::RaftStreamSummary summary;
  std::chrono::steady_clock::time_point opened;
  std::vector<consensus::Message> batch;
  pb::MessageBatch out;

  for (;;) {
    batch.clear();
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (!writer && !stopping_) {
        // Wait out the backoff; messages keep queueing (and dropping) meanwhile.
        cv_.wait_until(lock, next_attempt_, [&] { return stopping_; });
      }
      if (stopping_) break;
      size_t bytes = 0;
      while (!queue_.empty() && batch.size() < o.max_batch_messages) {
        const size_t size = ApproximateSize(queue_.front());
        if (!batch.empty() && bytes + size > o.max_batch_bytes) break;
        bytes += size;
        queued_bytes_ -= size;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (!writer) {
        ctx = std::make_unique<grpc::ClientContext>();
        active_ctx_ = ctx.get();
      }
    }
    if (batch.empty()) continue;  // defensive: only this thread takes from the queue

    const bool fresh = writer == nullptr;
    if (fresh) {
      // The call starts with the first write, so every blocking step is
      // reachable by a cancel from Stop() through ctx.
      ctx->set_initial_metadata_corked(true);
      opened = std::chrono::steady_clock::now();
      writer = config_.stub->Raft(ctx.get(), &summary);
    }

    out.Clear();
    *out.mutable_envelope() = envelope;
    out.mutable_messages()->Reserve(static_cast<int>(batch.size()));
    for (auto& m : batch)
      ToProto(std::move(m), out.add_messages());

    bool ok = writer->Write(out);
    if (ok && fresh) {
      // The receiver answers the first batch with its initial metadata once it
      // has admitted us; a refusal ends the call without it. So a stream counts
      // as up only when the peer has accepted it, not merely when TCP has.
      writer->WaitForInitialMetadata();
      ok = ctx->GetServerInitialMetadata().count(kAdmittedKey) > 0;
    }
    if (ok) {
      bool recovered = false;
      uint64_t failures = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        stats_.sent_messages += batch.size();
        stats_.sent_batches += 1;
        stats_.connected = true;
        recovered = failures_since_up_ > 0;
        failures = failures_since_up_;
        failures_since_up_ = 0;
      }
      uint64_t suppressed = 0;
      if (recovered && config_.limiter->Allow("up/" + std::to_string(config_.peer), &suppressed)) {
        config_.logger->info(
            "transport: Raft stream to peer {} ({}) is up after {} failed attempt(s){}",
            config_.peer, config_.address, failures, SuppressedNote(suppressed));
      }
      continue;
    }

    // The stream is broken, refused, or cancelled by Stop(). The batch is
    // lost; Raft resends after OnPeerUnreachable.
    grpc::Status status = writer->Finish();
    writer.reset();
    {
      std::lock_guard<std::mutex> lock(mu_);
      active_ctx_ = nullptr;
      stats_.dropped_messages += batch.size();
      stats_.connected = false;
      if (stopping_) break;
    }
    ctx.reset();
    if (status.ok()) {
      // The receiver closed the stream without an error (it should not).
      status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "the peer closed the stream");
    }
    OnStreamFailure(status, opened);
  }

  if (writer) {
    ctx->TryCancel();
    writer->Finish();
  }
  std::lock_guard<std::mutex> lock(mu_);
  active_ctx_ = nullptr;
}

void PeerSender::OnStreamFailure(const grpc::Status& status,
                                 std::chrono::steady_clock::time_point opened) {
  const TransportOptions& o = *config_.options;
  const auto now = std::chrono::steady_clock::now();
  if (now - opened > o.max_backoff) backoff_ = o.initial_backoff;  // it was up for a while
  const auto delay = backoff_;
  next_attempt_ = now + delay;
  backoff_ = std::min(backoff_ * 2, o.max_backoff);

  size_t stale = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // What was queued for a broken stream is stale by the time it reconnects;
    // Raft regenerates what it still needs once told the peer was unreachable.
    stale = queue_.size();
    stats_.dropped_messages += stale;
    stats_.stream_failures += 1;
    failures_since_up_ += 1;
    queue_.clear();
    queued_bytes_ = 0;
  }

  const auto code = status.error_code();
  const bool refused =
      code == grpc::StatusCode::FAILED_PRECONDITION || code == grpc::StatusCode::PERMISSION_DENIED;
  uint64_t suppressed = 0;
  const std::string key =
      "stream/" + std::to_string(config_.peer) + "/" + std::to_string(static_cast<int>(code));
  if (config_.limiter->Allow(key, &suppressed)) {
    if (refused) {
      config_.logger->error(
          "transport: peer {} ({}) refused our Raft stream: {}; retrying in {} ms{}", config_.peer,
          config_.address, status.error_message(), delay.count(), SuppressedNote(suppressed));
    } else {
      config_.logger->warn("transport: Raft stream to peer {} ({}) failed: {}; retrying in {} ms{}",
                           config_.peer, config_.address, FromGrpc(status).ToString(),
                           delay.count(), SuppressedNote(suppressed));
    }
  }
  config_.handler->OnPeerUnreachable(config_.peer);
}

}  // namespace phalanx::transport::internal

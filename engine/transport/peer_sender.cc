#include "engine/transport/peer_sender.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "engine/transport/codec.h"
#include "engine/transport/grpc_glue.h"

namespace phalanx::transport::internal {
namespace {

// The envelope as a field of a MessageBatch: tag and length prefix included.
size_t BatchOverhead(const pb::Envelope& e) {
  return e.ByteSizeLong() + 6;
}

SendQueue::Limits LaneLimits(const TransportOptions& o, size_t max_payload) {
  SendQueue::Limits l;
  l.max_messages = o.max_queue_messages;
  l.max_bytes = o.max_queue_bytes;
  l.max_message_bytes = max_payload;
  return l;
}

}  // namespace

bool IsBulk(const consensus::Message& m, bool bulk_busy) {
  if (!m.entries.empty() || m.snapshot.has_value()) return true;
  return m.type == consensus::MessageType::kApp && bulk_busy;
}

PeerSender::PeerSender(Config config)
    : config_(std::move(config)),
      envelope_(MakeEnvelope(config_.cluster_id, config_.self, config_.peer)),
      batch_overhead_(BatchOverhead(envelope_)),
      max_payload_(config_.options->max_message_bytes > batch_overhead_
                       ? config_.options->max_message_bytes - batch_overhead_
                       : 0),
      control_("control", config_.control_stub, LaneLimits(*config_.options, max_payload_),
               config_.options->initial_backoff),
      bulk_("bulk", config_.bulk_stub, LaneLimits(*config_.options, max_payload_),
            config_.options->initial_backoff),
      notice_pending_(std::make_shared<std::atomic<bool>>(false)) {}

PeerSender::~PeerSender() {
  Stop();
}

void PeerSender::Start() {
  control_.thread = std::thread([this] { Run(control_); });
  bulk_.thread = std::thread([this] { Run(bulk_); });
}

size_t PeerSender::Enqueue(std::vector<consensus::Message>* msgs) {
  const TransportOptions& o = *config_.options;
  size_t full[2] = {0, 0};  // control, bulk
  size_t oversized = 0;
  size_t stopped = 0;
  bool queued[2] = {false, false};
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& m : *msgs) {
      if (stopping_) {
        ++stopped;
        continue;
      }
      const bool bulk = IsBulk(m, bulk_.queue.busy());
      Lane& lane = bulk ? bulk_ : control_;
      const size_t size = ApproximateSize(m);
      switch (lane.queue.Push(std::move(m), size)) {
        case SendQueue::Admit::kQueued:
          queued[bulk] = true;
          break;
        case SendQueue::Admit::kFull:
          ++full[bulk];
          break;
        case SendQueue::Admit::kTooLarge:
          ++oversized;
          break;
      }
    }
    stats_.dropped_messages += stopped + full[0] + full[1] + oversized;
  }
  if (queued[0]) control_.cv.notify_one();
  if (queued[1]) bulk_.cv.notify_one();
  uint64_t suppressed = 0;
  if (oversized > 0 &&
      config_.limiter->Allow("oversized/" + std::to_string(config_.peer), &suppressed)) {
    config_.logger->error(
        "transport: dropped {} Raft message(s) to peer {} larger than max_message_bytes ({} B, "
        "{} B of it for the batch envelope){}",
        oversized, config_.peer, o.max_message_bytes, batch_overhead_, SuppressedNote(suppressed));
  }
  for (int bulk = 0; bulk < 2; ++bulk) {
    if (full[bulk] == 0) continue;
    const Lane& lane = bulk ? bulk_ : control_;
    if (config_.limiter->Allow(
            std::string("queue-full/") + lane.name + "/" + std::to_string(config_.peer),
            &suppressed)) {
      config_.logger->warn(
          "transport: send queue to peer {} ({}, {} lane) is full, dropped {} message(s); the "
          "peer is slow or unreachable{}",
          config_.peer, config_.address, lane.name, full[bulk], SuppressedNote(suppressed));
    }
  }
  const size_t dropped = full[0] + full[1] + oversized;
  if (dropped > 0) PostDropNotice();
  return dropped + stopped;
}

void PeerSender::PostDropNotice() {
  if (notice_pending_->exchange(true)) return;  // one is on its way
  std::shared_ptr<std::atomic<bool>> pending = notice_pending_;
  Handler* handler = config_.handler;
  const NodeId peer = config_.peer;
  // The flag is cleared before the call, so a drop during the call posts
  // another: every drop is followed by a call that starts after it.
  const bool posted = config_.dispatcher->Post([pending, handler, peer] {
    pending->store(false);
    handler->OnPeerUnreachable(peer);
  });
  if (!posted) pending->store(false);  // shutting down: nobody to tell
}

void PeerSender::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (Lane* lane : {&control_, &bulk_}) {
      if (lane->active_ctx != nullptr) lane->active_ctx->TryCancel();
    }
  }
  control_.cv.notify_all();
  bulk_.cv.notify_all();
  if (control_.thread.joinable()) control_.thread.join();
  if (bulk_.thread.joinable()) bulk_.thread.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (Lane* lane : {&control_, &bulk_}) {
    stats_.dropped_messages += lane->queue.Clear();
    lane->queue.ReleaseInFlight();
    lane->up = false;
  }
}

PeerStats PeerSender::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  PeerStats s = stats_;
  s.queued_messages = control_.queue.size() + bulk_.queue.size();
  s.queued_bytes = control_.queue.queued_bytes() + bulk_.queue.queued_bytes();
  // Up if a lane is up and neither is known to be failing (the bulk lane
  // opens its stream only with the first bulk message).
  s.connected = (control_.up || bulk_.up) && !control_.broken && !bulk_.broken;
  return s;
}

void PeerSender::Run(Lane& lane) {
  const TransportOptions& o = *config_.options;
  const size_t max_batch_bytes = std::min(o.max_batch_bytes, max_payload_);
  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<grpc::ClientWriter<pb::MessageBatch>> writer;
  pb::RaftStreamSummary summary;
  std::chrono::steady_clock::time_point opened;
  std::vector<consensus::Message> batch;

  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      lane.cv.wait(lock, [&] { return stopping_ || !lane.queue.empty(); });
      if (!writer && !stopping_) {
        // Wait out the backoff; messages keep queueing (and dropping) meanwhile.
        lane.cv.wait_until(lock, lane.next_attempt, [&] { return stopping_; });
      }
      if (stopping_) break;
      lane.queue.TakeBatch(o.max_batch_messages, max_batch_bytes, &batch);
      if (!writer) {
        ctx = std::make_unique<grpc::ClientContext>();
        lane.active_ctx = ctx.get();
      }
    }
    if (batch.empty()) continue;  // defensive: only this thread takes from the queue
    const size_t count = batch.size();

    const bool fresh = writer == nullptr;
    if (fresh) {
      // The call starts with the first write, so every blocking step is
      // reachable by a cancel from Stop() through ctx.
      ctx->set_initial_metadata_corked(true);
      opened = std::chrono::steady_clock::now();
      writer = lane.stub->Raft(ctx.get(), &summary);
    }

    bool ok = false;
    {
      // Built fresh per batch and gone once written: protobuf's Clear() would
      // keep a large entry's buffer allocated for the life of the stream. The
      // entries' payloads are copied into it once (the Payload is shared and
      // immutable); the consensus messages, and with them this lane's share
      // of the payloads, are released before the write.
      pb::MessageBatch out;
      *out.mutable_envelope() = envelope_;
      out.mutable_messages()->Reserve(static_cast<int>(count));
      for (auto& m : batch)
        ToProto(std::move(m), out.add_messages());
      batch.clear();
      ok = writer->Write(out);
    }
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
        lane.queue.ReleaseInFlight();
        stats_.sent_messages += count;
        stats_.sent_batches += 1;
        lane.up = true;
        lane.broken = false;
        recovered = lane.failures_since_up > 0;
        failures = lane.failures_since_up;
        lane.failures_since_up = 0;
      }
      uint64_t suppressed = 0;
      if (recovered &&
          config_.limiter->Allow(
              std::string("up/") + lane.name + "/" + std::to_string(config_.peer), &suppressed)) {
        config_.logger->info(
            "transport: Raft stream to peer {} ({}, {} lane) is up after {} failed attempt(s){}",
            config_.peer, config_.address, lane.name, failures, SuppressedNote(suppressed));
      }
      continue;
    }

    // The stream is broken, refused, or cancelled by Stop(). The batch is
    // lost; Raft resends after OnPeerUnreachable.
    grpc::Status status = writer->Finish();
    writer.reset();
    {
      std::lock_guard<std::mutex> lock(mu_);
      lane.queue.ReleaseInFlight();
      lane.active_ctx = nullptr;
      stats_.dropped_messages += count;
      lane.up = false;
      if (stopping_) break;
    }
    ctx.reset();
    if (status.ok()) {
      // The receiver closed the stream without an error (it should not).
      status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "the peer closed the stream");
    }
    OnStreamFailure(lane, status, opened);
  }

  if (writer) {
    ctx->TryCancel();
    writer->Finish();
  }
  std::lock_guard<std::mutex> lock(mu_);
  lane.active_ctx = nullptr;
}

void PeerSender::OnStreamFailure(Lane& lane, const grpc::Status& status,
                                 std::chrono::steady_clock::time_point opened) {
  const TransportOptions& o = *config_.options;
  const auto now = std::chrono::steady_clock::now();
  if (now - opened > o.max_backoff) lane.backoff = o.initial_backoff;  // it was up for a while
  const auto delay = lane.backoff;
  lane.next_attempt = now + delay;
  lane.backoff = std::min(lane.backoff * 2, o.max_backoff);

  {
    std::lock_guard<std::mutex> lock(mu_);
    // What was queued for a broken stream is stale by the time it reconnects;
    // Raft regenerates what it still needs once told the peer was unreachable.
    stats_.dropped_messages += lane.queue.Clear();
    stats_.stream_failures += 1;
    lane.failures_since_up += 1;
    lane.broken = true;
  }

  const auto code = status.error_code();
  const bool refused =
      code == grpc::StatusCode::FAILED_PRECONDITION || code == grpc::StatusCode::PERMISSION_DENIED;
  uint64_t suppressed = 0;
  // One key for both lanes: a dead peer fails both, one line says it.
  const std::string key =
      "stream/" + std::to_string(config_.peer) + "/" + std::to_string(static_cast<int>(code));
  if (config_.limiter->Allow(key, &suppressed)) {
    if (refused) {
      config_.logger->error(
          "transport: peer {} ({}) refused our Raft stream ({} lane): {}; retrying in {} ms{}",
          config_.peer, config_.address, lane.name, status.error_message(), delay.count(),
          SuppressedNote(suppressed));
    } else {
      config_.logger->warn(
          "transport: Raft stream to peer {} ({}, {} lane) failed: {}; retrying in {} ms{}",
          config_.peer, config_.address, lane.name, FromGrpc(status).ToString(), delay.count(),
          SuppressedNote(suppressed));
    }
  }
  config_.handler->OnPeerUnreachable(config_.peer);
}

}  // namespace phalanx::transport::internal

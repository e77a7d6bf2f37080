#include "engine/transport/snapshot_sender.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

#include "engine/transport/codec.h"
#include "engine/transport/crc32c.h"
#include "engine/transport/grpc_glue.h"

namespace phalanx::transport::internal {

SnapshotSender::SnapshotSender(Config config, consensus::Message msg,
                               std::unique_ptr<SnapshotSource> source, SnapshotCallback done)
    : config_(std::move(config)),
      msg_(std::move(msg)),
      source_(std::move(source)),
      done_(std::move(done)) {}

SnapshotSender::~SnapshotSender() {
  CancelAndJoin();
}

void SnapshotSender::Start() {
  thread_ = std::thread([this] { Run(); });
}

void SnapshotSender::CancelAndJoin() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    ctx_.TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

void SnapshotSender::Run() {
  const NodeId to = msg_.to;
  const uint64_t index = msg_.snapshot->metadata.index;
  const uint64_t term = msg_.snapshot->metadata.term;
  config_.logger->info("transport: sending snapshot {} (term {}) to peer {} ({})", index, term, to,
                       config_.address);
  const auto start = std::chrono::steady_clock::now();
  uint64_t bytes = 0;
  uint64_t chunks = 0;
  Status status = Transfer(&bytes, &chunks);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  if (status.ok()) {
    config_.logger->info(
        "transport: snapshot {} delivered to peer {}: {} bytes in {} chunks, {} ms", index, to,
        bytes, chunks, ms);
  } else {
    config_.logger->warn("transport: snapshot {} to peer {} failed after {} bytes, {} ms: {}",
                         index, to, bytes, ms, status.ToString());
  }
  source_.reset();
  SnapshotCallback done = std::move(done_);
  finished_.store(true);
  done(to, std::move(status));
  done = nullptr;
  exited_.store(true);
}

Status SnapshotSender::Transfer(uint64_t* bytes, uint64_t* chunks) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancelled_) return Status::Error(Status::Code::kCancelled, "snapshot transfer cancelled");
  }
  pb::SnapshotAck ack;
  ctx_.set_initial_metadata_corked(true);
  std::unique_ptr<grpc::ClientWriter<pb::SnapshotChunk>> writer =
      config_.stub->Snapshot(&ctx_, &ack);

  // A failed write means the call is over; Finish() says why.
  auto call_failed = [&]() { return FromGrpc(writer->Finish()); };

  pb::SnapshotChunk frame;
  *frame.mutable_envelope() = MakeEnvelope(config_.cluster_id, config_.self, msg_.to);
  ToProto(msg_, frame.mutable_message());
  frame.set_seq(0);
  if (!writer->Write(frame)) return call_failed();

  uint32_t crc = 0;
  uint64_t seq = 1;
  std::string chunk;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_) {
        writer->Finish();  // already cancelled through ctx_
        return Status::Error(Status::Code::kCancelled, "snapshot transfer cancelled");
      }
    }
    chunk.clear();
    Status s = source_->Next(&chunk);
    if (!s.ok()) {
      ctx_.TryCancel();
      writer->Finish();
      return Status::Error(Status::Code::kAborted, "snapshot source failed: " + s.ToString());
    }
    frame.Clear();
    frame.set_seq(seq++);
    if (chunk.empty()) {
      frame.set_last(true);
      frame.set_total_bytes(*bytes);
      frame.set_crc32c(crc);
      if (!writer->Write(frame)) return call_failed();
      writer->WritesDone();
      return FromGrpc(writer->Finish());
    }
    frame.set_data(std::move(chunk));
    if (frame.ByteSizeLong() > config_.max_message_bytes) {
      // gRPC would fail the call, and a retry would fail the same way: the
      // source must produce smaller chunks.
      const size_t size = frame.data().size();
      const size_t frame_bytes = frame.ByteSizeLong();
      ctx_.TryCancel();
      writer->Finish();
      return Status::Error(
          Status::Code::kInvalidArgument,
          fmt::format("snapshot chunk of {} bytes (a frame of {} bytes) exceeds the transport's "
                      "max_message_bytes ({}); the snapshot source must produce smaller chunks",
                      size, frame_bytes, config_.max_message_bytes));
    }
    crc = Crc32cExtend(crc, frame.data());
    *bytes += frame.data().size();
    *chunks += 1;
    if (!writer->Write(frame)) return call_failed();
    chunk = std::move(*frame.mutable_data());  // reuse the buffer
  }
}

}  // namespace phalanx::transport::internal

#include "engine/transport/peer_client.h"

#include <utility>

#include "engine/transport/grpc_glue.h"

namespace phalanx::transport {

class PeerClient::Impl {
 public:
  Impl(const std::string& address, PeerClientOptions options)
      : options_(std::move(options)),
        envelope_(
            internal::MakeEnvelope(options_.cluster_id, options_.sender_id, options_.target_id)),
        tracker_(std::make_shared<internal::CallTracker>()) {
    internal::ChannelSettings s;
    s.max_message_bytes = options_.max_message_bytes;
    stub_ = pb::Peer::NewStub(internal::MakeChannel(address, s));
  }
  ~Impl() {
    tracker_->CancelAllAndWait();
    dispatcher_.Close();
  }

  const PeerClientOptions options_;
  const pb::Envelope envelope_;
  const std::shared_ptr<internal::CallTracker> tracker_;
  std::shared_ptr<pb::Peer::Stub> stub_;
  internal::Dispatcher dispatcher_;  // callbacks of calls failed before sending
};

std::unique_ptr<PeerClient> PeerClient::Connect(const std::string& address,
                                                PeerClientOptions options) {
  if (address.empty()) return nullptr;
  return std::make_unique<PeerClient>(Token(), std::make_unique<Impl>(address, std::move(options)));
}

PeerClient::PeerClient(Token, std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PeerClient::~PeerClient() = default;

ProposeResult PeerClient::Propose(std::vector<std::string> commands,
                                  std::chrono::milliseconds timeout) {
  return internal::ProposeSync(impl_->stub_.get(), impl_->envelope_, std::move(commands), timeout,
                               impl_->options_.max_message_bytes);
}

ReadIndexResult PeerClient::ReadIndex(std::chrono::milliseconds timeout) {
  return internal::ReadIndexSync(impl_->stub_.get(), impl_->envelope_, timeout);
}

Status PeerClient::ProposeAsync(std::vector<std::string> commands,
                                std::chrono::milliseconds timeout, ProposeCallback done) {
  return internal::StartPropose(impl_->stub_, impl_->envelope_, std::move(commands), timeout,
                                impl_->options_.max_message_bytes, &impl_->dispatcher_,
                                impl_->tracker_, std::move(done));
}

Status PeerClient::ReadIndexAsync(std::chrono::milliseconds timeout, ReadIndexCallback done) {
  return internal::StartReadIndex(impl_->stub_, impl_->envelope_, timeout, impl_->tracker_,
                                  std::move(done));
}

}  // namespace phalanx::transport

#include "engine/transport/grpc_glue.h"

#include <algorithm>
#include <climits>
#include <utility>

namespace phalanx::transport::internal {
namespace {

int ClampInt(int64_t v) {
  if (v > INT_MAX) return INT_MAX;
  if (v < 0) return 0;
  return static_cast<int>(v);
}

std::chrono::system_clock::time_point DeadlineAfter(std::chrono::milliseconds timeout) {
  return std::chrono::system_clock::now() + timeout;
}

ProposeResult ProposeResultFrom(const grpc::Status& s, pb::ProposeResponse* resp) {
  ProposeResult r;
  if (!s.ok()) {
    r.status = FromGrpc(s);
    return r;
  }
  r.status = FromRequestCode(resp->code(), resp->message(), resp->leader_hint());
  if (r.status.ok()) {
    r.results.reserve(static_cast<size_t>(resp->results_size()));
    for (auto& x : *resp->mutable_results())
      r.results.push_back(std::move(x));
  }
  return r;
}

ReadIndexResult ReadIndexResultFrom(const grpc::Status& s, const pb::ReadIndexResponse& resp) {
  ReadIndexResult r;
  if (!s.ok()) {
    r.status = FromGrpc(s);
    return r;
  }
  r.status = FromRequestCode(resp.code(), resp.message(), resp.leader_hint());
  if (r.status.ok()) r.index = resp.index();
  return r;
}

template <typename Req, typename Resp, typename Done>
struct UnaryCall {
  std::shared_ptr<pb::Peer::Stub> stub;
  std::shared_ptr<CallTracker> tracker;
  grpc::ClientContext ctx;
  Req req;
  Resp resp;
  Done done;
};

}  // namespace

ChannelSettings SettingsFrom(const TransportOptions& o) {
  ChannelSettings s;
  s.max_message_bytes = o.max_message_bytes;
  s.keepalive_time = o.keepalive_time;
  s.keepalive_timeout = o.keepalive_timeout;
  s.initial_backoff = o.initial_backoff;
  s.max_backoff = o.max_backoff;
  return s;
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address, const ChannelSettings& s) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(ClampInt(static_cast<int64_t>(s.max_message_bytes)));
  args.SetMaxSendMessageSize(ClampInt(static_cast<int64_t>(s.max_message_bytes)));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, ClampInt(s.keepalive_time.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ClampInt(s.keepalive_timeout.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // gRPC's own reconnect backoff defaults to 1 s growing to 120 s: far too slow
  // for a peer that restarts. Keep it in step with the sender's backoff.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, ClampInt(s.initial_backoff.count()));
  // Despite its name this is the floor of a connect attempt's timeout.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
              ClampInt(std::max<int64_t>(1000, s.initial_backoff.count())));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, ClampInt(s.max_backoff.count()));
  // A connection of this channel's own, never shared with another channel.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

void ConfigureServer(grpc::ServerBuilder* builder, const ChannelSettings& s) {
  builder->SetMaxReceiveMessageSize(ClampInt(static_cast<int64_t>(s.max_message_bytes)));
  builder->SetMaxSendMessageSize(ClampInt(static_cast<int64_t>(s.max_message_bytes)));
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, ClampInt(s.keepalive_time.count()));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ClampInt(s.keepalive_timeout.count()));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Accept our peers' keepalive pings however often they come.
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                              ClampInt(s.keepalive_time.count() / 2));
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
}

Status FromGrpc(const grpc::Status& s) {
  using C = Status::Code;
  C code = C::kInternal;
  switch (s.error_code()) {
    case grpc::StatusCode::OK:
      return Status::Ok();
    case grpc::StatusCode::CANCELLED:
      code = C::kCancelled;
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      code = C::kDeadlineExceeded;
      break;
    case grpc::StatusCode::UNAVAILABLE:
      code = C::kUnavailable;
      break;
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      code = C::kRefused;
      break;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      code = C::kInvalidArgument;
      break;
    case grpc::StatusCode::ABORTED:
      code = C::kAborted;
      break;
    case grpc::StatusCode::DATA_LOSS:
      code = C::kCorruption;
      break;
    default:
      break;
  }
  return Status::Error(code, s.error_message());
}

pb::RequestCode ToRequestCode(Status::Code code) {
  using C = Status::Code;
  switch (code) {
    case C::kOk:
      return pb::REQUEST_OK;
    case C::kNotLeader:
      return pb::REQUEST_NOT_LEADER;
    case C::kProposalDropped:
      return pb::REQUEST_DROPPED;
    case C::kOutcomeUnknown:
      return pb::REQUEST_OUTCOME_UNKNOWN;
    case C::kDeadlineExceeded:
      return pb::REQUEST_DEADLINE_EXCEEDED;
    case C::kInvalidArgument:
      return pb::REQUEST_INVALID_ARGUMENT;
    case C::kUnavailable:
    case C::kCancelled:
    case C::kBusy:
      return pb::REQUEST_UNAVAILABLE;
    default:
      return pb::REQUEST_INTERNAL;
  }
}

Status FromRequestCode(pb::RequestCode code, const std::string& message, NodeId leader_hint) {
  using C = Status::Code;
  switch (code) {
    case pb::REQUEST_OK:
      return Status::Ok();
    case pb::REQUEST_NOT_LEADER:
      return Status::NotLeader(leader_hint, message);
    case pb::REQUEST_DROPPED:
      return Status::Error(C::kProposalDropped, message);
    case pb::REQUEST_OUTCOME_UNKNOWN:
      return Status::Error(C::kOutcomeUnknown, message);
    case pb::REQUEST_DEADLINE_EXCEEDED:
      return Status::Error(C::kDeadlineExceeded, message);
    case pb::REQUEST_INVALID_ARGUMENT:
      return Status::Error(C::kInvalidArgument, message);
    case pb::REQUEST_UNAVAILABLE:
      return Status::Error(C::kUnavailable, message);
    default:
      return Status::Error(C::kInternal, message);
  }
}

pb::Envelope MakeEnvelope(const std::string& cluster_id, NodeId from, NodeId to) {
  pb::Envelope e;
  e.set_cluster_id(cluster_id);
  e.set_from(from);
  e.set_to(to);
  return e;
}

bool CallTracker::Begin(grpc::ClientContext* ctx) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return false;
  calls_.insert(ctx);
  return true;
}

void CallTracker::End(grpc::ClientContext* ctx) {
  std::lock_guard<std::mutex> lock(mu_);
  calls_.erase(ctx);
  if (calls_.empty()) cv_.notify_all();
}

void CallTracker::CancelAllAndWait() {
  std::unique_lock<std::mutex> lock(mu_);
  closed_ = true;
  for (grpc::ClientContext* ctx : calls_)
    ctx->TryCancel();
  cv_.wait(lock, [&] { return calls_.empty(); });
}

Status CheckRequestSize(size_t bytes, size_t max_message_bytes) {
  if (bytes <= max_message_bytes) return Status::Ok();
  return Status::Error(Status::Code::kInvalidArgument,
                       "request of " + std::to_string(bytes) +
                           " bytes exceeds the transport's max_message_bytes (" +
                           std::to_string(max_message_bytes) + ")");
}

Status StartPropose(std::shared_ptr<pb::Peer::Stub> stub, const pb::Envelope& envelope,
                    std::vector<std::string> commands, std::chrono::milliseconds timeout,
                    size_t max_message_bytes, Dispatcher* dispatcher,
                    const std::shared_ptr<CallTracker>& tracker, ProposeCallback done) {
  using Call = UnaryCall<pb::ProposeRequest, pb::ProposeResponse, ProposeCallback>;
  auto call = std::make_shared<Call>();
  call->stub = std::move(stub);
  call->tracker = tracker;
  call->done = std::move(done);
  *call->req.mutable_envelope() = envelope;
  for (auto& c : commands)
    call->req.add_commands(std::move(c));
  Status size = CheckRequestSize(call->req.ByteSizeLong(), max_message_bytes);
  if (!size.ok()) {
    // gRPC would refuse it too, but with a less helpful status; the callback
    // still must not run inside this call.
    ProposeCallback cb = std::move(call->done);
    call.reset();  // the request's memory goes now
    auto run = std::make_shared<ProposeCallback>(std::move(cb));
    if (!dispatcher->Post([run, size] { (*run)(ProposeResult{size, {}}); })) {
      return Status::Error(Status::Code::kCancelled, "transport is shutting down");
    }
    return Status::Ok();
  }
  call->ctx.set_deadline(DeadlineAfter(timeout));
  if (!tracker->Begin(&call->ctx)) {
    return Status::Error(Status::Code::kCancelled, "transport is shutting down");
  }
  call->stub->async()->Propose(&call->ctx, &call->req, &call->resp, [call](const grpc::Status& s) {
    ProposeCallback cb = std::move(call->done);
    cb(ProposeResultFrom(s, &call->resp));
    cb = nullptr;  // the caller's state goes before End(), so owners may be destroyed after
    call->tracker->End(&call->ctx);
  });
  return Status::Ok();
}

Status StartReadIndex(std::shared_ptr<pb::Peer::Stub> stub, const pb::Envelope& envelope,
                      std::chrono::milliseconds timeout,
                      const std::shared_ptr<CallTracker>& tracker, ReadIndexCallback done) {
  using Call = UnaryCall<pb::ReadIndexRequest, pb::ReadIndexResponse, ReadIndexCallback>;
  auto call = std::make_shared<Call>();
  call->stub = std::move(stub);
  call->tracker = tracker;
  call->done = std::move(done);
  *call->req.mutable_envelope() = envelope;
  call->ctx.set_deadline(DeadlineAfter(timeout));
  if (!tracker->Begin(&call->ctx)) {
    return Status::Error(Status::Code::kCancelled, "transport is shutting down");
  }
  call->stub->async()->ReadIndex(&call->ctx, &call->req, &call->resp,
                                 [call](const grpc::Status& s) {
                                   ReadIndexCallback cb = std::move(call->done);
                                   cb(ReadIndexResultFrom(s, call->resp));
                                   cb = nullptr;
                                   call->tracker->End(&call->ctx);
                                 });
  return Status::Ok();
}

ProposeResult ProposeSync(pb::Peer::Stub* stub, const pb::Envelope& envelope,
                          std::vector<std::string> commands, std::chrono::milliseconds timeout,
                          size_t max_message_bytes) {
  pb::ProposeRequest req;
  *req.mutable_envelope() = envelope;
  for (auto& c : commands)
    req.add_commands(std::move(c));
  Status size = CheckRequestSize(req.ByteSizeLong(), max_message_bytes);
  if (!size.ok()) return ProposeResult{size, {}};
  pb::ProposeResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(timeout));
  grpc::Status s = stub->Propose(&ctx, req, &resp);
  return ProposeResultFrom(s, &resp);
}

ReadIndexResult ReadIndexSync(pb::Peer::Stub* stub, const pb::Envelope& envelope,
                              std::chrono::milliseconds timeout) {
  pb::ReadIndexRequest req;
  *req.mutable_envelope() = envelope;
  pb::ReadIndexResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineAfter(timeout));
  grpc::Status s = stub->ReadIndex(&ctx, req, &resp);
  return ReadIndexResultFrom(s, resp);
}

}  // namespace phalanx::transport::internal

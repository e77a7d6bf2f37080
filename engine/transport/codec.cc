#include "engine/transport/codec.h"

#include <utility>

namespace phalanx::transport {
namespace {

using consensus::EntryType;
using consensus::MessageType;

pb::MessageType TypeToProto(MessageType t) {
  switch (t) {
    case MessageType::kApp:
      return pb::MSG_APP;
    case MessageType::kAppResp:
      return pb::MSG_APP_RESP;
    case MessageType::kVote:
      return pb::MSG_VOTE;
    case MessageType::kVoteResp:
      return pb::MSG_VOTE_RESP;
    case MessageType::kPreVote:
      return pb::MSG_PRE_VOTE;
    case MessageType::kPreVoteResp:
      return pb::MSG_PRE_VOTE_RESP;
    case MessageType::kHeartbeat:
      return pb::MSG_HEARTBEAT;
    case MessageType::kHeartbeatResp:
      return pb::MSG_HEARTBEAT_RESP;
    case MessageType::kSnap:
      return pb::MSG_SNAP;
    case MessageType::kTimeoutNow:
      return pb::MSG_TIMEOUT_NOW;
    case MessageType::kReadIndex:
      return pb::MSG_READ_INDEX;
    case MessageType::kReadIndexResp:
      return pb::MSG_READ_INDEX_RESP;
  }
  return pb::MSG_APP;  // unreachable for valid enum values
}

bool TypeFromProto(int t, MessageType* out) {
  switch (t) {
    case pb::MSG_APP:
      *out = MessageType::kApp;
      return true;
    case pb::MSG_APP_RESP:
      *out = MessageType::kAppResp;
      return true;
    case pb::MSG_VOTE:
      *out = MessageType::kVote;
      return true;
    case pb::MSG_VOTE_RESP:
      *out = MessageType::kVoteResp;
      return true;
    case pb::MSG_PRE_VOTE:
      *out = MessageType::kPreVote;
      return true;
    case pb::MSG_PRE_VOTE_RESP:
      *out = MessageType::kPreVoteResp;
      return true;
    case pb::MSG_HEARTBEAT:
      *out = MessageType::kHeartbeat;
      return true;
    case pb::MSG_HEARTBEAT_RESP:
      *out = MessageType::kHeartbeatResp;
      return true;
    case pb::MSG_SNAP:
      *out = MessageType::kSnap;
      return true;
    case pb::MSG_TIMEOUT_NOW:
      *out = MessageType::kTimeoutNow;
      return true;
    case pb::MSG_READ_INDEX:
      *out = MessageType::kReadIndex;
      return true;
    case pb::MSG_READ_INDEX_RESP:
      *out = MessageType::kReadIndexResp;
      return true;
    default:
      return false;
  }
}

pb::EntryType EntryTypeToProto(EntryType t) {
  switch (t) {
    case EntryType::kNormal:
      return pb::ENTRY_NORMAL;
    case EntryType::kConfChange:
      return pb::ENTRY_CONF_CHANGE;
  }
  return pb::ENTRY_NORMAL;
}

bool EntryTypeFromProto(int t, EntryType* out) {
  switch (t) {
    case pb::ENTRY_NORMAL:
      *out = EntryType::kNormal;
      return true;
    case pb::ENTRY_CONF_CHANGE:
      *out = EntryType::kConfChange;
      return true;
    default:
      return false;
  }
}

void EntryToProto(consensus::Entry&& in, pb::Entry* out) {
  out->set_term(in.term);
  out->set_index(in.index);
  out->set_type(EntryTypeToProto(in.type));
  out->set_data(in.data.str());
}

Status EntryFromProto(pb::Entry&& in, consensus::Entry* out) {
  if (!EntryTypeFromProto(in.type(), &out->type)) {
    return Status::Error(Status::Code::kInvalidArgument,
                         "unknown entry type " + std::to_string(in.type()) + " at index " +
                             std::to_string(in.index()));
  }
  out->term = in.term();
  out->index = in.index();
  out->data = std::move(*in.mutable_data());
  return Status::Ok();
}

}  // namespace

void ToProto(const consensus::ConfState& in, pb::ConfState* out) {
  out->Clear();
  out->mutable_voters()->Add(in.voters.begin(), in.voters.end());
  out->mutable_learners()->Add(in.learners.begin(), in.learners.end());
}

void FromProto(const pb::ConfState& in, consensus::ConfState* out) {
  out->voters.assign(in.voters().begin(), in.voters().end());
  out->learners.assign(in.learners().begin(), in.learners().end());
}

void ToProto(const consensus::SnapshotMetadata& in, pb::SnapshotMetadata* out) {
  out->Clear();
  out->set_index(in.index);
  out->set_term(in.term);
  ToProto(in.conf_state, out->mutable_conf_state());
}

void FromProto(const pb::SnapshotMetadata& in, consensus::SnapshotMetadata* out) {
  out->index = in.index();
  out->term = in.term();
  FromProto(in.conf_state(), &out->conf_state);
}

void ToProto(const consensus::Entry& in, pb::Entry* out) {
  out->Clear();
  EntryToProto(consensus::Entry(in), out);
}

Status FromProto(const pb::Entry& in, consensus::Entry* out) {
  return EntryFromProto(pb::Entry(in), out);
}

void ToProto(consensus::Message&& in, pb::Message* out) {
  out->Clear();
  out->set_type(TypeToProto(in.type));
  out->set_from(in.from);
  out->set_to(in.to);
  out->set_term(in.term);
  out->set_index(in.index);
  out->set_log_term(in.log_term);
  out->mutable_entries()->Reserve(static_cast<int>(in.entries.size()));
  for (auto& e : in.entries)
    EntryToProto(std::move(e), out->add_entries());
  out->set_commit(in.commit);
  out->set_reject(in.reject);
  out->set_reject_hint(in.reject_hint);
  out->set_transfer(in.transfer);
  out->set_read_round(in.read_round);
  out->set_context(std::move(in.context));
  if (in.snapshot.has_value()) {
    pb::Snapshot* s = out->mutable_snapshot();
    ToProto(in.snapshot->metadata, s->mutable_metadata());
    s->set_data(std::move(in.snapshot->data));
  }
}

void ToProto(const consensus::Message& in, pb::Message* out) {
  ToProto(consensus::Message(in), out);
}

Status FromProto(pb::Message&& in, consensus::Message* out) {
  if (!TypeFromProto(in.type(), &out->type)) {
    return Status::Error(Status::Code::kInvalidArgument,
                         "unknown message type " + std::to_string(in.type()));
  }
  out->from = in.from();
  out->to = in.to();
  out->term = in.term();
  out->index = in.index();
  out->log_term = in.log_term();
  out->entries.clear();
  out->entries.resize(static_cast<size_t>(in.entries_size()));
  for (int i = 0; i < in.entries_size(); ++i) {
    Status s = EntryFromProto(std::move(*in.mutable_entries(i)), &out->entries[i]);
    if (!s.ok()) return s;
  }
  out->commit = in.commit();
  out->reject = in.reject();
  out->reject_hint = in.reject_hint();
  out->transfer = in.transfer();
  out->read_round = in.read_round();
  out->context = std::move(*in.mutable_context());
  if (in.has_snapshot()) {
    consensus::Snapshot snap;
    FromProto(in.snapshot().metadata(), &snap.metadata);
    snap.data = std::move(*in.mutable_snapshot()->mutable_data());
    out->snapshot = std::move(snap);
  } else {
    out->snapshot.reset();
  }
  return Status::Ok();
}

Status FromProto(const pb::Message& in, consensus::Message* out) {
  return FromProto(pb::Message(in), out);
}

size_t ApproximateSize(const consensus::Message& m) {
  // Worst cases of the wire form (every varint at its 10-byte maximum, every
  // length prefix at 5 bytes), so the bound holds for any field values:
  //   the message as a field of a MessageBatch: tag + length           6
  //   eight uint64 fields and the type, tag + varint each             99
  //   two bools, tag + value each                                      4
  //   context: tag + length + bytes                                    6 + n
  // and per entry: tag + length 6, term/index/type 33, data 6 + n;
  // the snapshot: tag + length 6, metadata 6 + 22 + conf state 18 + 10 per
  // id, data 6 + n.
  constexpr size_t kMessage = 6 + 99 + 4 + 6;
  constexpr size_t kEntry = 6 + 33 + 6;
  constexpr size_t kSnapshot = 6 + 6 + 22 + 18 + 6;
  size_t n = kMessage + m.context.size();
  for (const auto& e : m.entries)
    n += kEntry + e.data.size();
  if (m.snapshot.has_value()) {
    n += kSnapshot + m.snapshot->data.size() +
         10 * (m.snapshot->metadata.conf_state.voters.size() +
               m.snapshot->metadata.conf_state.learners.size());
  }
  return n;
}

}  // namespace phalanx::transport

// Conversion between the Raft core's plain types (consensus/types.h) and their
// wire form (proto/raft.proto). Pure functions: no I/O, no logging, no state;
// safe to call from any thread.
//
// Encoding never fails. Decoding fails with kInvalidArgument when the wire
// form holds a value the core has no name for (an unknown message or entry
// type, as sent by a newer peer); the output is then unspecified.
//
// The rvalue overloads move payloads (entry data, contexts, snapshot data)
// instead of copying them; the moved-from input is left valid but unspecified.
#pragma once

#include "consensus/types.h"
#include "engine/transport/status.h"
#include "proto/raft.pb.h"

namespace phalanx::transport {

// Message ⇄ pb::Message. `out` is overwritten (cleared first).
void ToProto(const consensus::Message& in, pb::Message* out);
void ToProto(consensus::Message&& in, pb::Message* out);
Status FromProto(const pb::Message& in, consensus::Message* out);
Status FromProto(pb::Message&& in, consensus::Message* out);

// The parts, for callers that store or stream them on their own (snapshot
// metadata travels on the Snapshot call; storage may reuse these).
void ToProto(const consensus::Entry& in, pb::Entry* out);
Status FromProto(const pb::Entry& in, consensus::Entry* out);
void ToProto(const consensus::ConfState& in, pb::ConfState* out);
void FromProto(const pb::ConfState& in, consensus::ConfState* out);
void ToProto(const consensus::SnapshotMetadata& in, pb::SnapshotMetadata* out);
void FromProto(const pb::SnapshotMetadata& in, consensus::SnapshotMetadata* out);

// An upper bound of the encoded size of `m` as one element of a MessageBatch
// (its tag and length prefix included), for the queue, batch and message
// limits: a batch whose elements' bounds plus its envelope fit in N bytes is
// at most N bytes on the wire. Exceeds the exact size by at most ~160 bytes
// plus ~40 per entry. Cheap: no encoding is done.
size_t ApproximateSize(const consensus::Message& m);

}  // namespace phalanx::transport

// The one place where the front end's Store interface (resp/store.h) meets the
// state machine's command format (engine/storage/command.h). resp/ knows
// nothing of storage; the node, which implements resp::Store, turns each
// resp::WriteCommand into the storage::Command it proposes and each
// storage::ApplyResult (applied, or the node's own error) back into a
// resp::StoreResult.
//
// Both directions are total and lossless for what resp/ produces: every
// WriteOp and every option flag has its counterpart, and results keep their
// type, integer and bytes. Nothing is validated here: resp/ has checked the
// request, and the state machine checks the entry again at apply. Flag bits a
// WriteOp does not define are dropped. Pure functions, thread-safe.
#pragma once

#include <vector>

#include "engine/storage/command.h"
#include "resp/store.h"

namespace phalanx::node {

storage::CommandOp ToStorageOp(resp::WriteOp op);

// The flags of `op` (SetFlag, ExpireFlag or GetExFlag bits) as the state
// machine spells them; 0 for ops without options.
uint8_t ToStorageFlags(resp::WriteOp op, uint8_t flags);

// The same command as the storage builders (storage::Command::Set, ...) make it.
storage::Command ToStorageCommand(resp::WriteCommand cmd);

resp::StoreResult::Type ToStoreResultType(storage::ApplyResult::Type type);
// Type, integer and bytes, all three as they are.
resp::StoreResult ToStoreResult(storage::ApplyResult r);
std::vector<resp::StoreResult> ToStoreResults(std::vector<storage::ApplyResult> rs);

}  // namespace phalanx::node

#include "resp/store.h"

#include <memory>

namespace phalanx::resp {

namespace {

// State of a chained WriteBatch: the next command goes out when the
// previous one's result arrives, so order holds whatever Write does.
struct Chain {
  Store* store;
  std::vector<storage::Command> cmds;
  std::vector<storage::ApplyResult> results;
  std::function<void(std::vector<storage::ApplyResult>)> done;
};

void Next(std::shared_ptr<Chain> chain) {
  size_t i = chain->results.size();
  if (i == chain->cmds.size()) {
    chain->done(std::move(chain->results));
    return;
  }
  Store* store = chain->store;
  store->Write(std::move(chain->cmds[i]), [chain](storage::ApplyResult r) {
    chain->results.push_back(std::move(r));
    Next(chain);
  });
}

}  // namespace

void Store::WriteBatch(std::vector<storage::Command> cmds,
                       std::function<void(std::vector<storage::ApplyResult>)> done) {
  auto chain = std::make_shared<Chain>();
  chain->store = this;
  chain->results.reserve(cmds.size());
  chain->cmds = std::move(cmds);
  chain->done = std::move(done);
  Next(std::move(chain));
}

}  // namespace phalanx::resp

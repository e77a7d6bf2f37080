// UdpDriver: runs one Swim member over UDP. The only code in membership/
// with sockets, a thread and a clock; everything it decides comes from the
// pure core (swim.h).
//
//   UdpDriverOptions opt;
//   opt.listen = "127.0.0.1:7946";             // IPv4 host:port; port 0: any free port
//   opt.seeds = {"127.0.0.1:7947"};
//   opt.config.meta = {"n1", "127.0.0.1:6379", "127.0.0.1:7379", "cluster-a"};
//   opt.on_event = [](const Event& e) { ... };  // on the driver's thread
//   auto driver = UdpDriver::Start(std::move(opt));   // Result: bind errors are values
//   driver.value()->Members();                         // any thread
//   driver.value()->Leave();  driver.value()->Stop();  // or just destroy it
//
// The thread waits for datagrams with a timeout of at most one tick
// (period / ticks_per_period), hands decoded ones to the core, ticks the
// core as the steady clock advances, and sends whatever the core queued.
// Datagrams that do not decode are counted as malformed, those of another
// cluster as foreign; both are dropped. After a stall (the process was
// paused, the machine suspended) at most one period of missed ticks is
// replayed and the rest skipped: logical time slows down rather than firing
// every timer at once against answers still queued in the socket — which
// would be exactly the false suspicions Lifeguard works to avoid.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "membership/config.h"
#include "membership/swim.h"
#include "membership/types.h"

namespace phalanx::membership {

// The cluster id of a member that does not know its cluster yet (a node
// joining through seeds). Its packets are answered by any member with one
// empty push-pull carrying the answerer's cluster id, and the first such
// answer is kept (DiscoveredClusterId()). Nothing else is exchanged: a
// discovering member never enters anybody's member list, so the rule that
// members of another cluster are ignored still holds.
inline constexpr const char* kDiscoveryClusterId = "?";

struct UdpDriverOptions {
  // IPv4 host:port to bind ("localhost" means 127.0.0.1). Port 0 binds a free port.
  std::string listen = "127.0.0.1:7946";
  // The address the others should use; defaults to the bound address. Must
  // be set when listening on 0.0.0.0.
  std::string advertise;
  std::vector<std::string> seeds;
  // The core's configuration; `address` is filled in from advertise/listen.
  Config config;
  // Length of one protocol period (one probe per member per period).
  std::chrono::milliseconds period{1000};
  // Called on the driver's thread, with no lock held, for every event. It
  // must not call Stop() (the thread would wait for itself).
  std::function<void(const Event&)> on_event;
};

struct UdpDriverCounters {
  uint64_t received = 0;           // datagrams read
  uint64_t sent = 0;               // datagrams sent
  uint64_t malformed = 0;          // did not decode: dropped
  uint64_t foreign = 0;            // another cluster id: dropped
  uint64_t send_errors = 0;        // sendto failed or the address did not parse
  uint64_t skipped_ticks = 0;      // ticks not replayed after a stall
  uint64_t discovery_replies = 0;  // answers sent to discovering members
};

class UdpDriver {
 public:
  // Binds, creates the core, joins the seeds and starts the thread.
  static Result<std::unique_ptr<UdpDriver>> Start(UdpDriverOptions options);
  ~UdpDriver();
  UdpDriver(const UdpDriver&) = delete;
  UdpDriver& operator=(const UdpDriver&) = delete;

  // Stops the thread and closes the socket; idempotent. Without Leave()
  // first, the others will find this member dead.
  void Stop();
  // Announces a graceful leave and sends it at once; Stop() afterwards.
  void Leave();

  std::vector<Member> Members() const;
  Member Self() const;
  int health() const;
  // The bound address (with the real port when listen asked for port 0).
  const std::string& address() const { return address_; }
  UdpDriverCounters counters() const;
  // Only when started with kDiscoveryClusterId: the cluster id of the first
  // member that answered, or empty.
  std::string DiscoveredClusterId() const;

 private:
  struct StartKey {};

 public:
  UdpDriver(StartKey, UdpDriverOptions options, int fd, std::string address,
            std::unique_ptr<Swim> core);

 private:
  void Run();
  void ReadAvailable();
  // Sends the outbox and reports events; call without holding mu_.
  void Flush();
  void Send(const std::vector<Outgoing>& out);

  const UdpDriverOptions options_;
  const int fd_;
  const std::string address_;
  std::chrono::steady_clock::duration tick_;

  mutable std::mutex mu_;  // guards core_ and counters_
  std::unique_ptr<Swim> core_;
  UdpDriverCounters counters_;
  std::string discovered_cluster_id_;

  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::once_flag stopped_;
};

}  // namespace phalanx::membership

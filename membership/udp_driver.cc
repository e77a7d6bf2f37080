#include "membership/udp_driver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "membership/codec.h"

namespace phalanx::membership {

namespace {

// At most this many datagrams are read before the clock is looked at again,
// so a flood cannot starve the ticks.
constexpr int kMaxReadsPerLoop = 256;

std::optional<sockaddr_in> ParseAddress(const std::string& hostport) {
  size_t colon = hostport.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string host = hostport.substr(0, colon);
  std::string port = hostport.substr(colon + 1);
  if (host == "localhost") host = "127.0.0.1";
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int p = std::stoi(port);
  if (p > 65535) return std::nullopt;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(p));
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) return std::nullopt;
  return sa;
}

std::string FormatAddress(const sockaddr_in& sa) {
  char host[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &sa.sin_addr, host, sizeof(host));
  return std::string(host) + ":" + std::to_string(ntohs(sa.sin_port));
}

}  // namespace

Result<std::unique_ptr<UdpDriver>> UdpDriver::Start(UdpDriverOptions options) {
  std::optional<sockaddr_in> bind_addr = ParseAddress(options.listen);
  if (!bind_addr)
    return Status::Error("membership.listen: bad IPv4 address '" + options.listen + "'");
  if (options.period.count() < 1) return Status::Error("period must be at least 1 ms");

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Status::Error(std::string("socket: ") + std::strerror(errno));
  auto fail = [fd](const std::string& what) {
    int err = errno;
    close(fd);
    return Status::Error(what + ": " + std::strerror(err));
  };
  if (bind(fd, reinterpret_cast<const sockaddr*>(&*bind_addr), sizeof(*bind_addr)) != 0) {
    return fail("bind " + options.listen);
  }
  sockaddr_in bound{};
  socklen_t len = sizeof(bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) return fail("getsockname");
  std::string address = FormatAddress(bound);

  std::string advertise = options.advertise.empty() ? address : options.advertise;
  if (advertise.rfind("0.0.0.0:", 0) == 0) {
    close(fd);
    return Status::Error("membership: set an advertise address when listening on 0.0.0.0");
  }
  options.config.address = advertise;
  auto core = Swim::Create(options.config);
  if (!core.ok()) {
    close(fd);
    return core.status();
  }
  core.value()->Join(options.seeds);

  auto driver = std::make_unique<UdpDriver>(StartKey{}, std::move(options), fd, std::move(address),
                                            std::move(core).value());
  driver->thread_ = std::thread([d = driver.get()] { d->Run(); });
  return driver;
}

UdpDriver::UdpDriver(StartKey, UdpDriverOptions options, int fd, std::string address,
                     std::unique_ptr<Swim> core)
    : options_(std::move(options)), fd_(fd), address_(std::move(address)), core_(std::move(core)) {
  tick_ = std::max<std::chrono::steady_clock::duration>(
      std::chrono::milliseconds(1), options_.period / options_.config.ticks_per_period);
}

UdpDriver::~UdpDriver() {
  Stop();
}

void UdpDriver::Stop() {
  std::call_once(stopped_, [this] {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    close(fd_);
  });
}

void UdpDriver::Leave() {
  std::vector<Outgoing> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    core_->Leave();
    out = core_->DrainOutbox();
  }
  // Sent from the caller's thread, so the news is out even if Stop()
  // follows at once (sendto on one socket from two threads is safe).
  // Events stay queued for the driver's thread.
  if (!stop_) Send(out);
}

std::vector<Member> UdpDriver::Members() const {
  std::lock_guard<std::mutex> lock(mu_);
  return core_->Members();
}

Member UdpDriver::Self() const {
  std::lock_guard<std::mutex> lock(mu_);
  return core_->self();
}

int UdpDriver::health() const {
  std::lock_guard<std::mutex> lock(mu_);
  return core_->health();
}

std::string UdpDriver::DiscoveredClusterId() const {
  std::lock_guard<std::mutex> lock(mu_);
  return discovered_cluster_id_;
}

UdpDriverCounters UdpDriver::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

void UdpDriver::Run() {
  using Clock = std::chrono::steady_clock;
  const int ticks_per_period = options_.config.ticks_per_period;
  Clock::time_point next_tick = Clock::now() + tick_;
  Flush();  // the join packets
  while (!stop_) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - Clock::now());
    pollfd pfd{fd_, POLLIN, 0};
    int ready = poll(&pfd, 1, static_cast<int>(std::clamp<int64_t>(wait.count(), 0, 1000)));
    if (ready > 0 && (pfd.revents & POLLIN)) ReadAvailable();

    Clock::time_point now = Clock::now();
    if (now >= next_tick) {
      const int64_t due = (now - next_tick) / tick_ + 1;
      const int64_t run = std::min<int64_t>(due, ticks_per_period);
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (int64_t i = 0; i < run; ++i)
          core_->Tick();
        counters_.skipped_ticks += static_cast<uint64_t>(due - run);
      }
      next_tick += due * tick_;
    }
    Flush();
  }
}

void UdpDriver::ReadAvailable() {
  char buf[codec::kMaxDatagram + 1];
  // Discovery answers, sent once mu_ is released (Send takes it).
  std::vector<Outgoing> discovery_out;
  struct SendAtEnd {
    UdpDriver* d;
    std::vector<Outgoing>* out;
    ~SendAtEnd() {
      if (!out->empty()) d->Send(*out);
    }
  } send_at_end{this, &discovery_out};
  for (int i = 0; i < kMaxReadsPerLoop; ++i) {
    sockaddr_in from{};
    socklen_t len = sizeof(from);
    ssize_t n = recvfrom(fd_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) return;  // EAGAIN: drained (other errors: try again next loop)
    auto packet = codec::Decode(std::string_view(buf, static_cast<size_t>(n)));
    std::lock_guard<std::mutex> lock(mu_);
    counters_.received++;
    if (!packet.ok()) {
      counters_.malformed++;
      continue;
    }
    const std::string& own_cluster = options_.config.meta.cluster_id;
    if (packet.value().cluster_id != own_cluster) {
      counters_.foreign++;
      if (own_cluster == kDiscoveryClusterId) {
        if (discovered_cluster_id_.empty() && packet.value().cluster_id != kDiscoveryClusterId) {
          discovered_cluster_id_ = packet.value().cluster_id;
        }
      } else if (packet.value().cluster_id == kDiscoveryClusterId &&
                 packet.value().type == PacketType::kPushPull && packet.value().reply_wanted) {
        // One small datagram back per request: just our cluster id, no
        // member state (a discovering member is not one of us yet).
        Packet answer;
        answer.type = PacketType::kPushPull;
        answer.cluster_id = own_cluster;
        answer.from_id = options_.config.meta.id;
        counters_.discovery_replies++;
        discovery_out.push_back(Outgoing{FormatAddress(from), std::move(answer)});
      }
      continue;
    }
    core_->Receive(FormatAddress(from), packet.value());
  }
}

void UdpDriver::Flush() {
  std::vector<Outgoing> out;
  std::vector<Event> events;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out = core_->DrainOutbox();
    events = core_->DrainEvents();
  }
  Send(out);
  if (options_.on_event) {
    for (const Event& e : events)
      options_.on_event(e);
  }
}

void UdpDriver::Send(const std::vector<Outgoing>& out) {
  uint64_t sent = 0, errors = 0;
  for (const Outgoing& o : out) {
    std::optional<sockaddr_in> to = ParseAddress(o.to);
    auto bytes = codec::Encode(o.packet);
    if (!to || !bytes.ok()) {
      ++errors;
      continue;
    }
    ssize_t n = sendto(fd_, bytes.value().data(), bytes.value().size(), 0,
                       reinterpret_cast<const sockaddr*>(&*to), sizeof(*to));
    if (n < 0) {
      ++errors;  // the network is lossy anyway; SWIM copes with a lost packet
    } else {
      ++sent;
    }
  }
  if (!out.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    counters_.sent += sent;
    counters_.send_errors += errors;
  }
}

}  // namespace phalanx::membership

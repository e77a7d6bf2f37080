#include "resp/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "resp/commands.h"
#include "resp/request_parser.h"
#include "resp/server_state.h"
#include "resp/util.h"

namespace phalanx::resp {

namespace {

constexpr uint64_t kListenToken = ~0ULL;
constexpr uint64_t kWakeToken = ~0ULL - 1;
constexpr size_t kReadChunk = size_t{64} * 1024;
constexpr int kEpollTimeoutMs = 100;
constexpr int64_t kCronPeriodMs = 1000;
constexpr int kMaxAcceptsPerWakeup = 64;
constexpr size_t kEagerFlushBytes = 1 << 20;
constexpr std::string_view kMaxClientsError = "-ERR max number of clients reached\r\n";

std::string Errno(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

std::string FormatAddress(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = {0};
  int port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    port = ntohs(a->sin6_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  return "?:0";
}

std::string RandomRunId() {
  std::random_device rd;
  std::string id;
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 40; ++i)
    id.push_back(kHex[rd() % 16]);
  return id;
}

// Redis's anetKeepAlive: probes after `interval` idle seconds, then every
// interval/3 seconds, giving up after 3 unanswered probes.
void SetKeepAlive(int fd, int interval) {
  int yes = 1;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &yes, sizeof(yes));
  int idle = interval;
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  int intvl = std::max(1, interval / 3);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
  int cnt = 3;
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

}  // namespace

bool ParseListenAddress(const std::string& listen, std::string* host, int* port) {
  size_t colon;
  if (!listen.empty() && listen[0] == '[') {
    size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return false;
    }
    *host = listen.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = listen.rfind(':');
    if (colon == std::string::npos) return false;
    *host = listen.substr(0, colon);
  }
  int64_t p;
  if (!StringToInt64(std::string_view(listen).substr(colon + 1), &p) || p < 0 || p > 65535) {
    return false;
  }
  *port = static_cast<int>(p);
  return !host->empty();
}

class EventLoop;

// An accepted socket on its way to another loop.
class OwnedFd {
 public:
  OwnedFd(int fd, ServerStats* stats) : fd_(fd), stats_(stats) {}
  ~OwnedFd() {
    if (fd_ >= 0) {
      close(fd_);
      stats_->connected_clients.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
  ServerStats* stats_;
};

// Work handed to a loop from any thread; the loop's eventfd wakes it.
class Mailbox {
 public:
  using Task = std::function<void(EventLoop&)>;
  explicit Mailbox(int efd) : efd_(efd) {}

  // False once the loop has stopped: the task is dropped.
  bool Post(Task task) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    bool wake = tasks_.empty();
    tasks_.push_back(std::move(task));
    if (wake) {
      uint64_t one = 1;
      ssize_t r = write(efd_, &one, sizeof(one));
      (void)r;
    }
    return true;
  }
  std::vector<Task> TakeAll() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Task> out;
    out.swap(tasks_);
    return out;
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    tasks_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<Task> tasks_;
  bool closed_ = false;
  int efd_;
};

// One request's place in the reply order.
struct Slot {
  uint64_t seq = 0;
  bool done = false;
  bool close_after = false;
  int proto = 2;
  std::string reply;
  Prepared::Kind kind = Prepared::Kind::kReply;
  std::function<void(const StoreResult&, ReplyBuilder&)> on_result;
  std::function<void(Store&, int64_t, ReplyBuilder&)> read;
  std::function<void(const std::string&, ReplyBuilder&)> on_client_list;
};

struct Connection {
  Connection(int fd_, ParserLimits limits) : fd(fd_), parser(limits) {}
  int fd;
  ClientState client;
  RequestParser parser;
  std::deque<Slot> slots;  // replies not yet in `out`, in request order
  size_t slot_bytes = 0;   // bytes of finished replies still in `slots`
  uint64_t next_seq = 1;
  std::string out;  // encoded replies waiting for the socket
  size_t out_pos = 0;
  std::optional<Prepared> gated;  // the next request, waiting for earlier ones
  int reads_inflight = 0;
  int writes_inflight = 0;
  // Writes started but not yet handed to the Store: the consecutive writes of
  // one pipeline, sent at the end of the loop iteration as one WriteBatch so
  // they apply in order and in one proposal.
  std::vector<std::pair<uint64_t, WriteCommand>> write_group;
  bool eof = false;                  // the peer closed its side: read no more
  bool input_done = false;           // QUIT or a protocol error: parse no more
  bool closing_after_flush = false;  // close once every reply is written
  bool closed = false;
  uint32_t events = 0;
  int64_t soft_limit_since = 0;

  size_t pending_output() const { return (out.size() - out_pos) + slot_bytes; }
};

class Server::Impl {
 public:
  Impl(ServerOptions options, Store* store) : shared_(std::move(options), store), exec_(&shared_) {}
  ~Impl() { Stop(); }

  Status Start();
  void Stop();
  int port() const { return shared_.port; }

  SharedState& shared() { return shared_; }
  CommandExecutor& exec() { return exec_; }
  size_t loop_count() const { return loops_.size(); }
  EventLoop& loop(size_t i) { return *loops_[i]; }
  // Round-robin owner for a newly accepted connection.
  size_t NextLoop() { return next_loop_.fetch_add(1, std::memory_order_relaxed) % loops_.size(); }
  // CLIENT LIST: gathers every loop's lines, then answers on the origin loop.
  void CollectClientList(size_t origin, uint64_t conn, uint64_t seq);

 private:
  SharedState shared_;
  CommandExecutor exec_;
  int listen_fd_ = -1;
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> next_loop_{0};
  bool started_ = false;
  bool stopped_ = false;
};

class EventLoop {
 public:
  EventLoop(Server::Impl* server, size_t index)
      : server_(server), shared_(server->shared()), index_(index), read_buf_(kReadChunk) {}

  ~EventLoop() {
    if (mailbox_) mailbox_->Close();
    for (auto& [id, conn] : conns_) {
      if (conn->fd >= 0) close(conn->fd);
      shared_.stats.connected_clients.fetch_sub(1, std::memory_order_relaxed);
    }
    conns_.clear();
    if (epfd_ >= 0) close(epfd_);
    if (efd_ >= 0) close(efd_);
  }

  Status Init(int listen_fd) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) return Status::Error(Errno("epoll_create1"));
    efd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd_ < 0) return Status::Error(Errno("eventfd"));
    mailbox_ = std::make_shared<Mailbox>(efd_);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeToken;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, efd_, &ev) != 0) return Status::Error(Errno("epoll_ctl"));
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u64 = kListenToken;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, listen_fd, &ev) != 0) {
      return Status::Error(Errno("epoll_ctl(listen)"));
    }
    listen_fd_ = listen_fd;
    return Status::Ok();
  }

  Mailbox& mailbox() { return *mailbox_; }

  void Run() {
    std::vector<epoll_event> events(256);
    int64_t next_cron = MonotonicMs() + kCronPeriodMs;
    while (!stop_) {
      int n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), kEpollTimeoutMs);
      if (n < 0 && errno != EINTR) break;
      for (int i = 0; i < n; ++i) {
        const epoll_event& ev = events[i];
        if (ev.data.u64 == kListenToken) {
          AcceptReady();
        } else if (ev.data.u64 == kWakeToken) {
          uint64_t v;
          ssize_t r = read(efd_, &v, sizeof(v));
          (void)r;
          for (auto& task : mailbox_->TakeAll())
            task(*this);
        } else {
          Connection* c = Find(ev.data.u64);
          if (c == nullptr) continue;
          if (ev.events & EPOLLIN) OnReadable(*c);
          if (!c->closed && (ev.events & EPOLLOUT)) Flush(*c);
          if (!c->closed && (ev.events & (EPOLLERR | EPOLLHUP)) && !(ev.events & EPOLLIN)) {
            Close(*c);
          }
        }
      }
      SubmitWriteGroups();
      IssueReadBarrier();
      Reap();
      int64_t now = MonotonicMs();
      if (now >= next_cron) {
        Cron(now);
        next_cron = now + kCronPeriodMs;
      }
    }
    mailbox_->Close();
  }

  // ---- entry points for tasks posted to this loop ----

  void Stop() { stop_ = true; }

  void Adopt(int fd) {
    auto conn = std::make_unique<Connection>(fd, Limits());
    ClientState& cs = conn->client;
    cs.id = shared_.next_client_id.fetch_add(1, std::memory_order_relaxed);
    cs.fd = fd;
    cs.authenticated = !shared_.config.has_password();
    cs.created_ms = cs.last_interaction_ms = MonotonicMs();
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) cs.addr = FormatAddress(ss);
    len = sizeof(ss);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) cs.laddr = FormatAddress(ss);
    conn->parser.set_auth_required(!cs.authenticated);
    int yes = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    if (shared_.options.tcp_keepalive > 0) SetKeepAlive(fd, shared_.options.tcp_keepalive);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = cs.id;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      close(fd);
      shared_.stats.connected_clients.fetch_sub(1, std::memory_order_relaxed);
      return;
    }
    conn->events = EPOLLIN;
    conns_.emplace(cs.id, std::move(conn));
  }

  void OnWriteResult(uint64_t id, uint64_t seq, const StoreResult& r) {
    Connection* c = Find(id);
    if (c == nullptr) return;
    Slot* s = FindSlot(*c, seq);
    if (s == nullptr) return;
    --c->writes_inflight;
    if (r.type == StoreResult::Type::kError) {
      shared_.stats.total_error_replies.fetch_add(1, std::memory_order_relaxed);
    }
    ReplyBuilder rb(&s->reply, s->proto);
    s->on_result(r, rb);
    Finish(*c, *s);
    Advance(*c);
  }

  void OnBarrier(const std::vector<std::pair<uint64_t, uint64_t>>& reads, const StoreResult& r) {
    const bool ok = r.type != StoreResult::Type::kError;
    std::vector<Connection*> touched;
    for (const auto& [id, seq] : reads) {
      Connection* c = Find(id);
      if (c == nullptr) continue;
      Slot* s = FindSlot(*c, seq);
      if (s == nullptr) continue;
      --c->reads_inflight;
      ReplyBuilder rb(&s->reply, s->proto);
      if (ok) {
        s->read(*shared_.store, WallClockMs(), rb);
      } else {
        shared_.stats.total_error_replies.fetch_add(1, std::memory_order_relaxed);
        rb.Error(r.bytes);
      }
      Finish(*c, *s);
      // Large replies go to the socket as they are made, and a client past
      // its output limit is closed before more are built.
      if (c->slot_bytes >= kEagerFlushBytes) {
        MoveFinishedReplies(*c);
        Flush(*c);
      }
      CheckOutputLimits(*c, MonotonicMs());
      if (!c->closed && (touched.empty() || touched.back() != c)) touched.push_back(c);
    }
    for (Connection* c : touched) {
      if (!c->closed) Advance(*c);
    }
  }

  void OnClientList(uint64_t id, uint64_t seq, const std::string& lines) {
    Connection* c = Find(id);
    if (c == nullptr) return;
    Slot* s = FindSlot(*c, seq);
    if (s == nullptr) return;
    ReplyBuilder rb(&s->reply, s->proto);
    s->on_client_list(lines, rb);
    Finish(*c, *s);
    Advance(*c);
  }

  // (client id, CLIENT LIST line) for every live connection of this loop.
  std::vector<std::pair<uint64_t, std::string>> ClientLines() {
    std::vector<std::pair<uint64_t, std::string>> out;
    int64_t now = MonotonicMs();
    for (auto& [id, c] : conns_) {
      if (c->closed) continue;
      c->client.query_buffer = c->parser.buffered_bytes();
      c->client.output_bytes = c->pending_output();
      out.emplace_back(id, CommandExecutor::FormatClientLine(c->client, now));
    }
    return out;
  }

 private:
  ParserLimits Limits() const {
    ParserLimits l;
    l.max_bulk_len = shared_.config.proto_max_bulk_len();
    l.max_query_buffer = shared_.options.client_query_buffer_limit;
    l.max_request_bytes = shared_.store->MaxRequestBytes();
    return l;
  }

  Connection* Find(uint64_t id) {
    auto it = conns_.find(id);
    if (it == conns_.end() || it->second->closed) return nullptr;
    return it->second.get();
  }

  static Slot* FindSlot(Connection& c, uint64_t seq) {
    for (Slot& s : c.slots) {
      if (s.seq == seq) return s.done ? nullptr : &s;
    }
    return nullptr;
  }

  void AcceptReady() {
    for (int i = 0; i < kMaxAcceptsPerWakeup; ++i) {
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      int fd =
          accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN (another loop took it) or a transient error
      shared_.stats.total_connections_received.fetch_add(1, std::memory_order_relaxed);
      int64_t count = shared_.stats.connected_clients.fetch_add(1, std::memory_order_relaxed);
      if (count >= shared_.config.maxclients()) {
        shared_.stats.connected_clients.fetch_sub(1, std::memory_order_relaxed);
        shared_.stats.rejected_connections.fetch_add(1, std::memory_order_relaxed);
        ssize_t r = write(fd, kMaxClientsError.data(), kMaxClientsError.size());
        (void)r;
        close(fd);
        continue;
      }
      size_t target = server_->NextLoop();
      if (target == index_) {
        Adopt(fd);
      } else {
        // The socket is closed if the task never runs (the loop stopped).
        auto owned = std::make_shared<OwnedFd>(fd, &shared_.stats);
        if (!server_->loop(target).mailbox().Post(
                [owned](EventLoop& l) { l.Adopt(owned->Release()); })) {
          owned.reset();
        }
      }
    }
  }

  void OnReadable(Connection& c) {
    if (c.eof || c.input_done) {
      // Not parsing any more: only notice the peer going away.
      ssize_t n = recv(c.fd, read_buf_.data(), read_buf_.size(), MSG_PEEK);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        Close(c);
      }
      return;
    }
    ssize_t n = read(c.fd, read_buf_.data(), read_buf_.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      Close(c);
      return;
    }
    if (n == 0) {
      c.eof = true;
      if (c.slots.empty() && !c.gated && c.out_pos == c.out.size()) {
        Close(c);
        return;
      }
      UpdateInterest(c);
      return;
    }
    shared_.stats.total_net_input_bytes.fetch_add(static_cast<uint64_t>(n),
                                                  std::memory_order_relaxed);
    c.client.last_interaction_ms = MonotonicMs();
    c.parser.Feed(std::string_view(read_buf_.data(), static_cast<size_t>(n)));
    ProcessInput(c);
    if (!c.closed) Flush(c);
  }

  // Parses and dispatches requests until one has to wait, input runs out, or
  // the connection is done.
  void ProcessInput(Connection& c) {
    while (!c.closed && !c.input_done && !c.gated) {
      std::vector<std::string> argv;
      RequestParser::Result r = c.parser.Next(&argv);
      if (r == RequestParser::Result::kNeedMore) break;
      if (r == RequestParser::Result::kTooLarge) {
        // Read and dropped, never proposed; the connection goes on.
        shared_.stats.total_error_replies.fetch_add(1, std::memory_order_relaxed);
        std::string reply;
        ReplyBuilder(&reply, c.client.proto)
            .Error(shared_.store->TooLargeError(c.parser.too_large_bytes()));
        AddReply(c, std::move(reply), false);
        continue;
      }
      if (r == RequestParser::Result::kError) {
        if (c.parser.error().empty()) {  // query buffer limit: no reply
          shared_.stats.client_query_buffer_limit_disconnections.fetch_add(
              1, std::memory_order_relaxed);
          Close(c);
          return;
        }
        shared_.stats.total_error_replies.fetch_add(1, std::memory_order_relaxed);
        std::string reply;
        ReplyBuilder(&reply, c.client.proto).Error(c.parser.error());
        c.input_done = true;
        AddReply(c, std::move(reply), true);
        break;
      }
      Dispatch(c, argv);
    }
  }

  void Dispatch(Connection& c, std::vector<std::string>& argv) {
    c.client.query_buffer = c.parser.buffered_bytes();
    c.client.output_bytes = c.pending_output();
    Prepared p = server_->exec().Prepare(&c.client, argv);
    c.parser.set_auth_required(!c.client.authenticated && shared_.config.has_password());
    c.parser.set_max_bulk_len(shared_.config.proto_max_bulk_len());
    switch (p.kind) {
      case Prepared::Kind::kReply:
        if (p.close_after_reply) c.input_done = true;
        AddReply(c, std::move(p.reply), p.close_after_reply);
        return;
      case Prepared::Kind::kDrop:
        Close(c);
        return;
      case Prepared::Kind::kClientList: {
        Slot& s = NewSlot(c, p);
        server_->CollectClientList(index_, c.client.id, s.seq);
        return;
      }
      case Prepared::Kind::kRead:
      case Prepared::Kind::kWrite:
      case Prepared::Kind::kAdmin:
        if (CanStart(c, p.kind)) {
          Start(c, std::move(p));
        } else {
          c.gated = std::move(p);
        }
        return;
    }
  }

  // Ordering: a read waits for the connection's earlier writes (so it sees
  // them); a write waits for earlier reads (so they do not see it) and, unless
  // the Store orders writes itself, for earlier writes.
  //
  // A write may also join the connection's open write group (writes started
  // in this loop iteration, not yet submitted): the group goes to the Store
  // as one ordered WriteBatch, so pipelined writes need not wait for each
  // other's round trip. Admin commands wait for every earlier write.
  bool CanStart(const Connection& c, Prepared::Kind kind) const {
    if (kind == Prepared::Kind::kRead) return c.writes_inflight == 0;
    if (c.reads_inflight != 0) return false;
    if (c.writes_inflight == 0) return true;
    if (kind == Prepared::Kind::kAdmin) return false;
    if (shared_.options.store_orders_writes) return true;
    return !c.write_group.empty() && c.write_group.size() < kMaxWriteGroup;
  }

  Slot& NewSlot(Connection& c, Prepared& p) {
    Slot s;
    s.seq = c.next_seq++;
    s.proto = p.proto;
    s.kind = p.kind;
    s.on_result = std::move(p.on_result);
    s.read = std::move(p.read);
    s.on_client_list = std::move(p.on_client_list);
    c.slots.push_back(std::move(s));
    return c.slots.back();
  }

  void Start(Connection& c, Prepared p) {
    Slot& s = NewSlot(c, p);
    const uint64_t id = c.client.id;
    const uint64_t seq = s.seq;
    if (p.kind == Prepared::Kind::kWrite && !shared_.options.store_orders_writes) {
      ++c.writes_inflight;
      if (c.write_group.empty()) groups_to_submit_.push_back(id);
      c.write_group.emplace_back(seq, std::move(p.write));
    } else if (p.kind == Prepared::Kind::kWrite || p.kind == Prepared::Kind::kAdmin) {
      ++c.writes_inflight;
      std::shared_ptr<Mailbox> mb = mailbox_;
      auto done = [mb, id, seq](StoreResult r) {
        mb->Post([id, seq, r = std::move(r)](EventLoop& l) { l.OnWriteResult(id, seq, r); });
      };
      if (p.kind == Prepared::Kind::kWrite) {
        shared_.store->Write(std::move(p.write), std::move(done));
      } else {
        shared_.store->Admin(std::move(p.admin_args), std::move(done));
      }
    } else {
      ++c.reads_inflight;
      barrier_batch_.emplace_back(id, seq);
    }
  }

  // Hands each connection's open write group to the Store as one batch.
  void SubmitWriteGroups() {
    if (groups_to_submit_.empty()) return;
    std::vector<uint64_t> ids;
    ids.swap(groups_to_submit_);
    for (uint64_t id : ids) {
      // Even for a connection closed meanwhile: its writes were accepted (as
      // Redis runs every command it read before the client went away).
      auto it = conns_.find(id);
      if (it == conns_.end() || it->second->write_group.empty()) continue;
      Connection* c = it->second.get();
      std::vector<uint64_t> seqs;
      std::vector<WriteCommand> cmds;
      seqs.reserve(c->write_group.size());
      cmds.reserve(c->write_group.size());
      for (auto& [seq, cmd] : c->write_group) {
        seqs.push_back(seq);
        cmds.push_back(std::move(cmd));
      }
      c->write_group.clear();
      std::shared_ptr<Mailbox> mb = mailbox_;
      shared_.store->WriteBatch(
          std::move(cmds), [mb, id, seqs = std::move(seqs)](std::vector<StoreResult> rs) mutable {
            rs.resize(seqs.size(), StoreResult::Error("ERR internal: missing result"));
            mb->Post([id, seqs = std::move(seqs), rs = std::move(rs)](EventLoop& l) {
              for (size_t i = 0; i < seqs.size(); ++i)
                l.OnWriteResult(id, seqs[i], rs[i]);
            });
          });
    }
  }

  // One ReadBarrier for every read this loop started in this iteration.
  void IssueReadBarrier() {
    if (barrier_batch_.empty()) return;
    std::shared_ptr<Mailbox> mb = mailbox_;
    auto batch =
        std::make_shared<std::vector<std::pair<uint64_t, uint64_t>>>(std::move(barrier_batch_));
    barrier_batch_.clear();
    shared_.store->ReadBarrier([mb, batch](StoreResult r) {
      mb->Post([batch, r = std::move(r)](EventLoop& l) { l.OnBarrier(*batch, r); });
    });
  }

  void Finish(Connection& c, Slot& s) {
    s.done = true;
    c.slot_bytes += s.reply.size();
    s.on_result = nullptr;
    s.read = nullptr;
    s.on_client_list = nullptr;
  }

  void AddReply(Connection& c, std::string reply, bool close_after) {
    if (c.slots.empty()) {
      c.out.append(reply);
      if (close_after) c.closing_after_flush = true;
    } else {
      Slot s;
      s.seq = c.next_seq++;
      s.done = true;
      s.close_after = close_after;
      s.reply = std::move(reply);
      c.slot_bytes += s.reply.size();
      c.slots.push_back(std::move(s));
    }
    CheckOutputLimits(c, MonotonicMs());
  }

  // Moves finished replies at the front into the output buffer, starts the
  // waiting request if it may start now, and goes on parsing.
  void MoveFinishedReplies(Connection& c) {
    while (!c.slots.empty() && c.slots.front().done) {
      Slot& s = c.slots.front();
      c.out.append(s.reply);
      c.slot_bytes -= s.reply.size();
      if (s.close_after) c.closing_after_flush = true;
      c.slots.pop_front();
    }
  }

  void Advance(Connection& c) {
    MoveFinishedReplies(c);
    if (c.gated && CanStart(c, c.gated->kind)) {
      Prepared p = std::move(*c.gated);
      c.gated.reset();
      Start(c, std::move(p));
      ProcessInput(c);
    }
    if (!c.closed) Flush(c);
  }

  void Flush(Connection& c) {
    if (c.closed) return;
    while (c.out_pos < c.out.size()) {
      ssize_t n = send(c.fd, c.out.data() + c.out_pos, c.out.size() - c.out_pos, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_pos += static_cast<size_t>(n);
        shared_.stats.total_net_output_bytes.fetch_add(static_cast<uint64_t>(n),
                                                       std::memory_order_relaxed);
        c.client.last_interaction_ms = MonotonicMs();
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n < 0 && errno == EINTR) continue;
      Close(c);
      return;
    }
    if (c.out_pos == c.out.size()) {
      c.out.clear();
      c.out_pos = 0;
      if (c.slots.empty() && !c.gated && (c.closing_after_flush || c.eof)) {
        Close(c);
        return;
      }
    } else if (c.out_pos >= (1 << 20)) {
      c.out.erase(0, c.out_pos);
      c.out_pos = 0;
    }
    CheckOutputLimits(c, MonotonicMs());
    if (!c.closed) UpdateInterest(c);
  }

  // client-output-buffer-limit for normal clients.
  void CheckOutputLimits(Connection& c, int64_t now) {
    if (c.closed) return;
    const ServerOptions& o = shared_.options;
    size_t pending = c.pending_output();
    bool unauth = !c.client.authenticated && shared_.config.has_password();
    size_t hard = unauth ? std::min(o.output_buffer_hard_limit, o.unauthenticated_output_limit)
                         : o.output_buffer_hard_limit;
    bool over = hard > 0 && pending > hard;
    if (!over && o.output_buffer_soft_limit > 0 && pending > o.output_buffer_soft_limit) {
      if (c.soft_limit_since == 0) {
        c.soft_limit_since = now;
      } else if (now - c.soft_limit_since >= o.output_buffer_soft_seconds * 1000LL) {
        over = true;
      }
    } else if (!over) {
      c.soft_limit_since = 0;
    }
    if (over) {
      shared_.stats.client_output_limit_disconnections.fetch_add(1, std::memory_order_relaxed);
      Close(c);
    }
  }

  void UpdateInterest(Connection& c) {
    uint32_t want = 0;
    bool paused = c.input_done || c.eof ||
                  (c.gated && c.parser.buffered_bytes() >= shared_.options.read_pause_threshold);
    if (!paused) want |= EPOLLIN;
    if (c.out_pos < c.out.size()) want |= EPOLLOUT;
    if (want == c.events) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = c.client.id;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
    c.events = want;
  }

  // Marks the connection closed; Reap() frees it after this iteration, so
  // no caller up the stack holds a dangling reference.
  void Close(Connection& c) {
    if (c.closed) return;
    c.closed = true;
    epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.fd = -1;
    shared_.stats.connected_clients.fetch_sub(1, std::memory_order_relaxed);
    to_reap_.push_back(c.client.id);
  }

  void Reap() {
    for (uint64_t id : to_reap_)
      conns_.erase(id);
    to_reap_.clear();
  }

  void Cron(int64_t now) {
    int64_t timeout = shared_.config.timeout();
    for (auto& [id, c] : conns_) {
      if (c->closed) continue;
      if (timeout > 0 && c->slots.empty() && !c->gated &&
          now - c->client.last_interaction_ms > timeout * 1000) {
        Close(*c);
        continue;
      }
      CheckOutputLimits(*c, now);
    }
    Reap();
  }

  Server::Impl* server_;
  SharedState& shared_;
  const size_t index_;
  int epfd_ = -1;
  int efd_ = -1;
  int listen_fd_ = -1;
  bool stop_ = false;
  std::shared_ptr<Mailbox> mailbox_;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns_;
  std::vector<std::pair<uint64_t, uint64_t>> barrier_batch_;
  // Connections with an open write group, in the order the groups opened.
  std::vector<uint64_t> groups_to_submit_;
  // Most writes of one pipeline in one batch (bounds one proposal's size).
  static constexpr size_t kMaxWriteGroup = 256;
  std::vector<uint64_t> to_reap_;
  std::vector<char> read_buf_;
};

void Server::Impl::CollectClientList(size_t origin, uint64_t conn, uint64_t seq) {
  struct Gather {
    std::mutex mu;
    size_t remaining;
    std::vector<std::pair<uint64_t, std::string>> lines;
  };
  auto g = std::make_shared<Gather>();
  g->remaining = loops_.size();
  Impl* self = this;
  auto add = [g, self, origin, conn, seq](std::vector<std::pair<uint64_t, std::string>> mine) {
    std::vector<std::pair<uint64_t, std::string>> all;
    {
      std::lock_guard<std::mutex> lock(g->mu);
      for (auto& l : mine)
        g->lines.push_back(std::move(l));
      if (--g->remaining != 0) return;
      all.swap(g->lines);
    }
    std::sort(all.begin(), all.end());
    std::string text;
    for (auto& [id, line] : all) {
      text += line;
      text += '\n';
    }
    self->loop(origin).mailbox().Post(
        [conn, seq, text = std::move(text)](EventLoop& l) { l.OnClientList(conn, seq, text); });
  };
  for (auto& loop : loops_) {
    if (!loop->mailbox().Post([add](EventLoop& l) { add(l.ClientLines()); })) add({});
  }
}

Status Server::Impl::Start() {
  if (started_) return Status::Error("resp server: Start called twice");
  started_ = true;
  std::string host;
  int port = 0;
  if (!ParseListenAddress(shared_.options.listen, &host, &port)) {
    return Status::Error("resp.listen: expected host:port, got '" + shared_.options.listen + "'");
  }
  if (shared_.options.maxclients < 1) return Status::Error("resp.maxclients: must be at least 1");
  if (shared_.options.timeout < 0) return Status::Error("resp.timeout: must not be negative");
  if (shared_.options.proto_max_bulk_len < 1) {
    return Status::Error("resp.proto_max_bulk_len: must be positive");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port_str = std::to_string(port);
  int gai = getaddrinfo(host.c_str(), port_str.c_str(), &hints, &res);
  if (gai != 0) {
    return Status::Error("resp.listen " + shared_.options.listen + ": " + gai_strerror(gai));
  }
  std::string last_error = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = Errno("socket");
      continue;
    }
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 511) != 0) {
      last_error = Errno("bind/listen");
      close(fd);
      continue;
    }
    listen_fd_ = fd;
    break;
  }
  freeaddrinfo(res);
  if (listen_fd_ < 0) {
    return Status::Error("resp.listen " + shared_.options.listen + ": " + last_error);
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  shared_.port = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                          : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  int threads = shared_.options.threads;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  shared_.threads = threads;
  shared_.start_ms = WallClockMs();
  shared_.start_monotonic_ms = MonotonicMs();
  shared_.run_id = RandomRunId();
  for (int i = 0; i < threads; ++i) {
    auto loop = std::make_unique<EventLoop>(this, static_cast<size_t>(i));
    Status s = loop->Init(listen_fd_);
    if (!s.ok()) {
      loops_.clear();
      close(listen_fd_);
      listen_fd_ = -1;
      return s;
    }
    loops_.push_back(std::move(loop));
  }
  for (auto& loop : loops_) {
    EventLoop* l = loop.get();
    threads_.emplace_back([l] { l->Run(); });
  }
  return Status::Ok();
}

void Server::Impl::Stop() {
  if (stopped_ || !started_) {
    stopped_ = true;
    return;
  }
  stopped_ = true;
  for (auto& loop : loops_)
    loop->mailbox().Post([](EventLoop& l) { l.Stop(); });
  for (auto& t : threads_)
    t.join();
  threads_.clear();
  loops_.clear();
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
}

Server::Server(ServerOptions options, Store* store)
    : impl_(std::make_unique<Impl>(std::move(options), store)) {}

Server::~Server() = default;

Status Server::Start() {
  return impl_->Start();
}

void Server::Stop() {
  impl_->Stop();
}

int Server::port() const {
  return impl_->port();
}

}  // namespace phalanx::resp

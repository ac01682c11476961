// How the daemon takes clients: the listening socket, accepting only the
// daemon's own user, and pausing while the table of descriptors is full.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/exit_codes.h"
#include "common/wire.h"
#include "server/daemon.h"
#include "server/identity_check.h"
#include "server/own_files.h"
#include "server/session.h"

namespace viasock {
namespace {

// Out of descriptors: how long accepting pauses before it tries again.
constexpr auto kAcceptPause = std::chrono::milliseconds(200);
// Descriptors kept for the daemon's own use when clients fill its table:
// starting a tool instance opens four pipes at once.
constexpr size_t kReservedDescriptors = 8;
// A shortage of descriptors is over once the table has not been full for this long.
constexpr auto kShortageOver = std::chrono::seconds(1);

bool out_of_descriptors(const boost::system::error_code& error) {
  int code = error.value();
  return error.category() == boost::system::system_category() &&
         (code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM);
}

}  // namespace

bool Daemon::bind_socket(std::string* error) {
  if (!address_.open(config_.socket_path, error)) return false;
  files_ = std::make_unique<OwnFiles>(managed_ ? &state_ : nullptr, id_, address_);
  if (!managed_) {
    // A foreground server replaces a dead socket, never a live daemon.
    if (connect_unix(address_.address())) {
      *error = "a daemon already listens on " + config_.socket_path;
      return false;
    }
    unlinkat(address_.dir_fd(), address_.name().c_str(), 0);
  }
  boost::system::error_code ec;
  acceptor_ = std::make_unique<asio::local::stream_protocol::acceptor>(io_);
  asio::local::stream_protocol::endpoint endpoint(address_.address());
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = "cannot listen on " + config_.socket_path + ": " + ec.message();
    return false;
  }
  fcntl(acceptor_->native_handle(), F_SETFD, FD_CLOEXEC);
  files_->claim_socket();
  set_state(DaemonState::kServing);
  reserve_.start(kReservedDescriptors);
  if (reserve_.size() < kReservedDescriptors)
    spdlog::warn("only {} descriptors to spare under the limit of open files; clients beyond it wait", reserve_.size());
  return true;
}

void Daemon::accept() {
  if (life_ != DaemonState::kServing) return;
  acceptor_->async_accept(
      [this](const boost::system::error_code& error, LocalSocket socket) { on_accept(error, std::move(socket)); });
}

void Daemon::on_accept(const boost::system::error_code& error, LocalSocket socket) {
  if (error == asio::error::operation_aborted || life_ != DaemonState::kServing) return;
  if (out_of_descriptors(error)) return pause_accepting(error);
  if (error) {
    spdlog::warn("accept failed: {}", error.message());
    return accept();
  }
  if (short_of_descriptors_ && DaemonClock::now() - last_full_ >= kShortageOver) {
    short_of_descriptors_ = false;
    spdlog::info("descriptors to spare again");
  }
  fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
  // A file the tool read at start changed before this client connected: it
  // must not get the old answers. Closed before HELLO, it starts a new
  // daemon (client/connector.cpp).
  if (identity_check_->tracked_file_changed()) return go_stale();
  // This client may have taken the last free descriptors: then the reserve
  // goes back before anything else runs, and no more clients are taken.
  int full = DescriptorReserve::pipe_error();
  if (full) reserve_.give_back();
  if (pid_t client = owner_peer(socket); client >= 0) {
    auto session = std::make_shared<Session>(std::move(socket), client, *pool_, *input_framer_, *this);
    session->set_max_record(config_.options.max_record);
    sessions_.insert(session);
    session->start();
  }
  if (full) return pause_accepting(boost::system::error_code(full, boost::system::system_category()));
  accept();
}

// Out of descriptors: retrying at once would spin (the waiting connection
// stays in the backlog). The reserve goes back, so that the daemon can go on
// serving the clients it has (and start tool instances for them); clients
// are accepted again once it can be taken back. Logged once per shortage:
// while clients keep the table full, each burst taken fills it again.
void Daemon::pause_accepting(const boost::system::error_code& error) {
  reserve_.give_back();
  last_full_ = DaemonClock::now();
  if (!short_of_descriptors_) {
    short_of_descriptors_ = true;
    spdlog::warn("out of descriptors: {}; {} clients connected; accepting more as they finish", error.message(),
                 sessions_.size());
  }
  resume_accepting_later();
}

void Daemon::resume_accepting_later() {
  accept_timer_.expires_after(kAcceptPause);
  accept_timer_.async_wait([this](const boost::system::error_code& error) {
    if (error) return;
    // Room for the reserve and, beyond it, for the next client and a pipe.
    if (reserve_.take() && DescriptorReserve::pipe_error() == 0) return accept();
    reserve_.give_back();
    last_full_ = DaemonClock::now();
    resume_accepting_later();
  });
}

// Only the daemon's own user may talk to it (and to its tool): the
// client's pid, or -1 for a refused peer.
pid_t Daemon::owner_peer(LocalSocket& socket) {
  ucred peer{};
  socklen_t length = sizeof peer;
  if (getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &length) == 0 && peer.uid == geteuid())
    return peer.pid;
  spdlog::warn("refused a connection from uid {} pid {}", peer.uid, peer.pid);
  // Best effort, never blocking: tell the refused client why.
  std::string refusal = wire::encode_exit(kExitDaemon, "the daemon refused the connection: uid " +
                                                           std::to_string(peer.uid) + " is not its owner");
  ::send(socket.native_handle(), refusal.data(), refusal.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  return -1;
}

}  // namespace viasock

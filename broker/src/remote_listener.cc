#include "remote_listener.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <array>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "logwire/remote_protocol.h"
#include "logwire/timestamp.h"

namespace logwire {
namespace {

constexpr std::chrono::milliseconds k_stop_check_interval{100};
constexpr std::int64_t k_expire_interval_ns = 1'000'000'000;
// A frame this large is not even read: ZeroMQ drops the connection. Messages between
// remote::k_max_message_bytes and this are read and refused with an error reply.
constexpr std::int64_t k_hard_frame_limit =
    2 * static_cast<std::int64_t>(remote::k_max_message_bytes);
// Messages taken in one go before the loop looks at its stop flag and timers again, so
// that a producer flooding the socket cannot hold them off.
constexpr int k_messages_per_pass = 1024;
// More frames than a message ever has are drained and refused, never kept.
constexpr std::size_t k_max_frames = 8;

}  // namespace

struct remote_listener::state {
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::router};
  std::string endpoint;
  remote_sessions sessions;

  explicit state(store& records) : sessions(records) {}
};

remote_listener::remote_listener(std::unique_ptr<state> s) : state_(std::move(s)) {}
remote_listener::remote_listener(remote_listener&&) noexcept = default;
remote_listener::~remote_listener() = default;

result<remote_listener> remote_listener::bind(const std::string& endpoint, store& records) {
  auto s = std::make_unique<state>(records);
  try {
    s->socket.set(zmq::sockopt::linger, 0);
    s->socket.set(zmq::sockopt::maxmsgsize, k_hard_frame_limit);
    s->socket.bind(endpoint);
    s->endpoint = s->socket.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return error{errc::io_error, "cannot listen for producers on " + endpoint + ": " + e.what()};
  }
  return remote_listener(std::move(s));
}

const std::string& remote_listener::endpoint() const noexcept {
  return state_->endpoint;
}

void remote_listener::serve(const std::atomic<bool>& stop) {
  zmq::socket_t& socket = state_->socket;
  std::vector<zmq::message_t> frames;
  std::vector<std::span<const std::byte>> views;
  std::int64_t next_expiry = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    try {
      zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, k_stop_check_interval);
      const std::int64_t now = unix_now_ns();
      if (now >= next_expiry) {
        state_->sessions.expire(now);
        next_expiry = now + k_expire_interval_ns;
      }
      if ((item.revents & ZMQ_POLLIN) == 0) continue;
      // What is waiting, up to a pass's worth, before polling again.
      for (int taken = 0; taken < k_messages_per_pass; ++taken) {
        frames.clear();
        zmq::message_t part;
        if (!socket.recv(part, zmq::recv_flags::dontwait)) break;
        bool more = part.more();
        frames.push_back(std::move(part));
        while (more) {
          zmq::message_t next;
          (void)socket.recv(next, zmq::recv_flags::none);
          more = next.more();
          if (frames.size() <= k_max_frames) frames.push_back(std::move(next));
        }
        views.clear();
        for (std::size_t i = 1; i < frames.size(); ++i) {
          views.emplace_back(static_cast<const std::byte*>(frames[i].data()), frames[i].size());
        }
        if (frames.size() > k_max_frames) views.emplace_back();  // refused as malformed
        const zmq::message_t& id = frames.front();
        // The peer's address, for the notes; not every transport has one.
        const char* address = zmq_msg_gets(frames.back().handle(), "Peer-Address");
        const auto reply =
            state_->sessions.handle({static_cast<const char*>(id.data()), id.size()}, views,
                                    address != nullptr ? address : "", unix_now_ns());
        std::array<zmq::const_buffer, 4> out{
            zmq::buffer(id.data(), id.size()), zmq::buffer(remote::k_protocol),
            zmq::buffer(reply.command), zmq::buffer(reply.body.data(), reply.body.size())};
        // A peer that is gone, or too slow to take its replies, loses them: ROUTER drops
        // rather than blocks, so no producer can stall the others.
        (void)zmq::send_multipart(socket, out, zmq::send_flags::dontwait);
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      spdlog::error("producer socket: {}", e.what());
    } catch (const std::exception& e) {
      spdlog::error("producer message: {}", e.what());
    }
  }
}

bool loopback_endpoint(const std::string& endpoint) {
  constexpr std::string_view tcp = "tcp://";
  if (endpoint.rfind(tcp, 0) != 0) {
    return endpoint.rfind("ipc://", 0) == 0 || endpoint.rfind("inproc://", 0) == 0;
  }
  // The host part, up to the port: an IPv4 literal in 127.0.0.0/8, [::1] or localhost.
  const std::string_view rest = std::string_view(endpoint).substr(tcp.size());
  const std::string_view host = rest.substr(0, rest.rfind(':'));
  if (host == "[::1]" || host == "localhost") return true;
  in_addr address{};
  return ::inet_pton(AF_INET, std::string(host).c_str(), &address) == 1 &&
         (ntohl(address.s_addr) >> 24) == 127;
}

}  // namespace logwire

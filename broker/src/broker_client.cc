#include "logwire/broker_client.h"

#include <filesystem>
#include <zmq.hpp>

#include "logwire/query_protocol.h"

namespace logwire {

namespace {

// A string member of an untrusted object, or `fallback` when absent or not a string.
std::string text_member(const ordered_json& object, const char* key, const char* fallback) {
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : fallback;
}

}  // namespace

struct broker_client::connection {
  zmq::context_t context{1};
  std::unique_ptr<zmq::socket_t> socket;

  zmq::socket_t& open(const std::string& endpoint) {
    if (!socket) {
      socket = std::make_unique<zmq::socket_t>(context, zmq::socket_type::req);
      socket->set(zmq::sockopt::linger, 0);
      socket->set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(k_max_query_reply));
      socket->connect(endpoint);
    }
    return *socket;
  }
  void reset() { socket.reset(); }
};

broker_client::broker_client(const runtime_dir& dir, broker_client_options options)
    : endpoint_(dir.query_endpoint()),
      runtime_path_(dir.path().string()),
      socket_path_((dir.path() / "query.sock").string()),
      options_(options),
      connection_(std::make_unique<connection>()) {}

broker_client::~broker_client() = default;

broker_result broker_client::call(std::string_view method, const nlohmann::json& params) {
  const broker_error unavailable{"broker_unavailable",
                                 "no logwire broker is answering for runtime dir " + runtime_path_,
                                 "start one with: logwire-broker --runtime-dir " + runtime_path_};
  // No socket file: no broker has ever run here, or it stopped cleanly. No need to wait.
  if (!std::filesystem::exists(socket_path_)) return unavailable;

  const nlohmann::json request = {
      {"v", k_query_protocol_version}, {"method", method}, {"params", params}};
  const std::string payload =
      request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (payload.size() > k_max_query_message) {
    return broker_error{"invalid_param",
                        "the request is larger than the broker accepts (" +
                            std::to_string(k_max_query_message) + " bytes)",
                        ""};
  }

  for (int attempt = 0; attempt < options_.attempts; ++attempt) {
    try {
      zmq::socket_t& socket = connection_->open(endpoint_);
      socket.send(zmq::buffer(payload), zmq::send_flags::none);
      zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, options_.timeout);
      if ((item.revents & ZMQ_POLLIN) == 0) {
        connection_->reset();
        continue;
      }
      zmq::message_t reply;
      if (!socket.recv(reply, zmq::recv_flags::none)) {
        connection_->reset();
        continue;
      }
      const auto body = ordered_json::parse(reply.to_string_view(), nullptr, false);
      const auto version = body.is_object() ? body.find("v") : body.end();
      if (!body.is_object() || version == body.end() || !version->is_number_integer() ||
          version->get<std::int64_t>() != k_query_protocol_version) {
        return broker_error{"protocol_error",
                            "the broker's reply is not protocol version " +
                                std::to_string(k_query_protocol_version),
                            "make sure logwire-broker and this tool come from one build"};
      }
      if (const auto error = body.find("error"); error != body.end() && error->is_object()) {
        return broker_error{text_member(*error, "code", "internal"),
                            text_member(*error, "message", ""), text_member(*error, "hint", "")};
      }
      const auto result = body.find("result");
      if (result == body.end()) return broker_error{"protocol_error", "reply without a result", ""};
      return broker_result(boost::system::in_place_value, *result);
    } catch (const zmq::error_t& e) {
      connection_->reset();
      return broker_error{"broker_unavailable",
                          std::string("cannot reach the broker at ") + endpoint_ + ": " + e.what(),
                          unavailable.hint};
    }
  }
  return unavailable;
}

}  // namespace logwire

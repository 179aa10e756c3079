#include <thread>

#include "broker_launcher.h"
#include "logwire/observe_backend.h"

namespace logwire {
namespace {

constexpr std::chrono::milliseconds k_ping_timeout{250};
constexpr std::chrono::milliseconds k_ready_poll{50};

}  // namespace

broker_observe_backend::broker_observe_backend(const runtime_dir& dir,
                                               broker_backend_options options)
    : dir_(dir),
      options_(std::move(options)),
      launcher_(std::make_unique<broker_launcher>(dir, options_.broker_binary)) {}

broker_observe_backend::~broker_observe_backend() = default;

broker_result broker_observe_backend::call(std::string_view method, const nlohmann::json& params) {
  std::unique_ptr<broker_client> client;
  {
    const std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      client = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!client) client = std::make_unique<broker_client>(dir_, options_.client);
  broker_result reply = client->call(method, params);
  const std::lock_guard lock(mutex_);
  idle_.push_back(std::move(client));
  return reply;
}

broker_result broker_observe_backend::observe(const nlohmann::json& arguments) {
  broker_result reply = call("observe", arguments);
  if (reply || reply.error().code != "broker_unavailable" || !launcher_->enabled()) return reply;
  if (auto failed = start_and_wait()) return *failed;
  return call("observe", arguments);
}

void broker_observe_backend::start_broker_if_absent() {
  if (!launcher_->enabled()) return;
  broker_client probe(dir_, {.timeout = k_ping_timeout, .attempts = 1});
  const broker_result pong = probe.call("ping", nlohmann::json::object());
  if (!pong && pong.error().code == "broker_unavailable") launcher_->start();
}

std::optional<broker_error> broker_observe_backend::start_and_wait() {
  if (auto why = launcher_->start()) {
    return broker_error{
        "broker_unavailable",
        "no logwire broker answers for runtime dir " + dir_.path().string() + ", and " + *why,
        "start one with: logwire-broker --runtime-dir " + dir_.path().string()};
  }
  broker_client probe(dir_, {.timeout = k_ping_timeout, .attempts = 1});
  const auto deadline = std::chrono::steady_clock::now() + options_.start_wait;
  while (std::chrono::steady_clock::now() < deadline) {
    if (probe.call("ping", nlohmann::json::object())) return std::nullopt;
    std::this_thread::sleep_for(k_ready_poll);
  }
  return broker_error{"broker_unavailable",
                      "started logwire-broker for runtime dir " + dir_.path().string() +
                          ", but it did not answer within " +
                          std::to_string(options_.start_wait.count() / 1000) + " s",
                      "its log says why: " + launcher_->log_file().string() +
                          "; or start one by hand: logwire-broker --runtime-dir " +
                          dir_.path().string()};
}

}  // namespace logwire

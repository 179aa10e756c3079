#include "support/broker_ready.h"

#include "logwire/broker_client.h"
#include "support/wait_for.h"

namespace logwire::testing {

bool broker_answers(const std::filesystem::path& runtime_dir, std::chrono::milliseconds timeout) {
  const auto dir = runtime_dir::open(runtime_dir);
  if (!dir) return false;
  broker_client client(*dir, {.timeout = std::chrono::milliseconds(200), .attempts = 1});
  return wait_for([&] { return client.call("ping", nlohmann::json::object()).has_value(); },
                  timeout);
}

}  // namespace logwire::testing

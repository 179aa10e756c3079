#include "logwire/observe_backend.h"

namespace logwire {

broker_result broker_observe_backend::observe(const nlohmann::json& arguments) {
  return client_.call("observe", arguments);
}

}  // namespace logwire

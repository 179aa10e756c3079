#include "logwire/error.h"

#include <stdexcept>

namespace logwire {

void throw_exception_from_error(const error& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

}  // namespace logwire

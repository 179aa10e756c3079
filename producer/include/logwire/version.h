// The library version, as producers report it in their identity.
#pragma once

namespace logwire {
inline constexpr const char* k_library_version = "0.1.0";
}

// The checkout page, tools/demo/payment/index.html, compiled into logwire-demo-payment so
// the binary serves it from anywhere (the build generates payment_page.cc from it).
#pragma once

#include <string_view>

namespace logwire::demo {

extern const std::string_view k_payment_page;

}  // namespace logwire::demo

#include "support/temp_runtime_dir.h"

#include <stdlib.h>

#include <stdexcept>

#include "logwire/runtime_dir.h"

namespace logwire::testing {

temp_runtime_dir::temp_runtime_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "lw-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  root_ = pattern;
  path_ = root_ / "rt";
}

temp_runtime_dir::~temp_runtime_dir() {
  std::error_code ec;
  if (std::filesystem::exists(path_, ec)) {
    if (auto dir = runtime_dir::open(path_)) dir->remove_shared_memory();
  }
  std::filesystem::remove_all(root_, ec);
}

}  // namespace logwire::testing

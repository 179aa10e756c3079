// A private runtime directory for one test, so tests running side by side never share a
// broker, a socket or a ring. Removes the directory and any shared-memory segment of its
// instance when the test ends.
#pragma once

#include <filesystem>
#include <string>

namespace logwire::testing {

class temp_runtime_dir {
 public:
  temp_runtime_dir();
  ~temp_runtime_dir();
  temp_runtime_dir(const temp_runtime_dir&) = delete;
  temp_runtime_dir& operator=(const temp_runtime_dir&) = delete;

  // The runtime directory itself (not yet created: the code under test creates it).
  const std::filesystem::path& path() const noexcept { return path_; }
  std::string string() const { return path_.string(); }
  // Where a test puts its processes' stderr.
  std::filesystem::path log_file(const std::string& name) const { return root_ / (name + ".log"); }

 private:
  std::filesystem::path root_;
  std::filesystem::path path_;
};

}  // namespace logwire::testing

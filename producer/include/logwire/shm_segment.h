// A named POSIX shared-memory segment, mapped read-write: the RAII owner of the
// boost.interprocess object and mapping. Unmapping does not remove the name; the
// broker removes a ring's segment once it has drained it and its writer is gone.
#pragma once

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cstddef>
#include <span>
#include <string>

#include "logwire/error.h"

namespace logwire {

class shm_segment {
 public:
  // Creates a segment of `size` bytes, private to this user (0600). Fails if the name
  // exists.
  static result<shm_segment> create(const std::string& name, std::size_t size);
  // Maps an existing segment.
  static result<shm_segment> open(const std::string& name);
  // Removes the name; the memory goes once the last mapping does. False if absent.
  static bool remove(const std::string& name) noexcept;

  shm_segment(shm_segment&&) noexcept = default;
  shm_segment& operator=(shm_segment&&) noexcept = default;
  shm_segment(const shm_segment&) = delete;
  shm_segment& operator=(const shm_segment&) = delete;

  std::span<std::byte> bytes() const noexcept {
    return {static_cast<std::byte*>(region_.get_address()), region_.get_size()};
  }
  const std::string& name() const noexcept { return name_; }

 private:
  shm_segment(std::string name, boost::interprocess::mapped_region region)
      : name_(std::move(name)), region_(std::move(region)) {}

  std::string name_;
  boost::interprocess::mapped_region region_;
};

}  // namespace logwire

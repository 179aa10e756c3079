#include "logwire/shm_segment.h"

#include <fcntl.h>

#include <boost/interprocess/exceptions.hpp>
#include <cstring>

namespace logwire {

namespace bip = boost::interprocess;

result<shm_segment> shm_segment::create(const std::string& name, std::size_t size) {
  bool created = false;
  try {
    bip::permissions owner_only;
    owner_only.set_permissions(0600);
    bip::shared_memory_object object(bip::create_only, name.c_str(), bip::read_write, owner_only);
    created = true;
    object.truncate(static_cast<bip::offset_t>(size));
    // Reserve the pages now: a tmpfs that runs out later would kill the writer with
    // SIGBUS in the middle of a log call; here it is an error the caller can report.
    const int reserve =
        ::posix_fallocate(object.get_mapping_handle().handle, 0, static_cast<off_t>(size));
    if (reserve != 0) {
      bip::shared_memory_object::remove(name.c_str());
      return error{errc::io_error, "cannot reserve " + std::to_string(size >> 20) +
                                       " MiB of shared memory for " + name + " (" +
                                       std::strerror(reserve) +
                                       "); free space in /dev/shm or use a smaller ring"};
    }
    bip::mapped_region region(object, bip::read_write);
    return shm_segment(name, std::move(region));
  } catch (const bip::interprocess_exception& e) {
    if (created) bip::shared_memory_object::remove(name.c_str());
    return error{errc::io_error, "cannot create shared memory " + name + ": " + e.what()};
  }
}

result<shm_segment> shm_segment::open(const std::string& name) {
  try {
    bip::shared_memory_object object(bip::open_only, name.c_str(), bip::read_write);
    bip::mapped_region region(object, bip::read_write);
    return shm_segment(name, std::move(region));
  } catch (const bip::interprocess_exception& e) {
    const auto code = e.get_error_code() == bip::not_found_error ? errc::not_found : errc::io_error;
    return error{code, "cannot open shared memory " + name + ": " + e.what()};
  }
}

bool shm_segment::remove(const std::string& name) noexcept {
  return bip::shared_memory_object::remove(name.c_str());
}

}  // namespace logwire

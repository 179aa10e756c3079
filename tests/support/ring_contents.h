// Reads back the records in a producer's ring, as the broker would, for tests of what a
// producer wrote.
#pragma once

#include <string>
#include <vector>

#include "logwire/logwire_generated.h"

namespace logwire::testing {

struct ring_record {
  std::vector<std::byte> bytes;
  const wire::Record* operator->() const {
    return flatbuffers::GetRoot<wire::Record>(bytes.data());
  }
};

// Drains and returns every committed record in the named ring segment.
std::vector<ring_record> drain_ring(const std::string& segment_name);

// The committed records of a ring, read from a copy of its segment: the ring itself is
// left as it was, for the broker.
std::vector<ring_record> snapshot_ring(const std::string& segment_name);

}  // namespace logwire::testing

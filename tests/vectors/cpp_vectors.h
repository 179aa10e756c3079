// The shared test vectors (tests/vectors/) that keep the C++ and Python producers
// byte-compatible, and the C++ ones defined as data. make_cpp_vectors writes them;
// vectors_test rebuilds them in memory and holds the committed files to them byte for byte.
//
// Every vector is a pair of files:
//   <name>.bin   an Envelope exactly as sent as a DATA body: each record a RecordBuffer
//                holding a finished Record FlatBuffer; the C++ producers finish the
//                envelope with the file identifier "LWE1" and align each record to 8.
//   <name>.json  its decoded form, every key always present (absent texts "", absent
//                numbers 0, an absent producer null):
//     {"producer": {"service", "host", "pid", "instanceId": {"hi", "lo"}, "language",
//                   "libraryVersion"} | null,
//      "firstSequence", "dropped", "lastDropNs", "acknowledged",
//      "records": [{"timestampNs", "level": "TRACE".."FATAL", "service", "message",
//                   "requestId", "traceparent", "spanId",
//                   "fields": [{"key", "kind": "string"|"int"|"double"|"bool", "value"}],
//                   "stackTrace"}]}
// cpp-*.{bin,json} come from here; python-*.{bin,json} from the Python encoder
// (tests/python/test_vectors.py). The bytes depend on the FlatBuffers library's builder
// (2.0.8 here): after an upgrade that lays buffers out differently, rerun the generator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "logwire/log_record.h"

namespace logwire::test_vectors {

// Which of the two C++ record encoders lays a record out.
enum class record_encoding {
  builder,      // logwire::record_encoder (FlatBufferBuilder): the broker's re-encoder
  fast_writer,  // the producer's internal record_writer: what a log call writes
};

struct vector_record {
  log_record record;  // receive_ns is not on the wire and is ignored
  record_encoding encoding = record_encoding::builder;
};

struct vector_identity {
  std::string service;
  std::string host;
  std::uint32_t pid = 0;
  std::uint64_t instance_hi = 0;
  std::uint64_t instance_lo = 0;
  std::string language;
  std::string library_version;
};

struct vector_envelope {
  std::optional<vector_identity> producer;
  std::uint64_t first_sequence = 0;
  std::uint64_t dropped = 0;
  std::int64_t last_drop_ns = 0;
  std::uint64_t acknowledged = 0;
  std::vector<vector_record> records;
};

struct cpp_vector {
  std::string name;  // the files' stem: "cpp-basic", ...
  vector_envelope envelope;
};

// Every C++ vector.
std::vector<cpp_vector> cpp_vectors();

// The DATA body a C++ producer sends for `envelope` (an empty text is left absent).
std::vector<std::byte> encode_envelope(const vector_envelope& envelope);

// `envelope` in the .json form above.
nlohmann::json envelope_json(const vector_envelope& envelope);

}  // namespace logwire::test_vectors

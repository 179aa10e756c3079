// The shared test vectors (tests/vectors, described in vectors/cpp_vectors.h) that keep
// the C++ and Python producers byte-compatible: every envelope, whichever language made
// it, passes the broker's message checks and decodes to its .json; every C++ one is
// exactly what the C++ encoders make today.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "logwire/log_record.h"
#include "logwire/remote_message.h"
#include "logwire/remote_protocol.h"
#include "vectors/cpp_vectors.h"

namespace logwire::test_vectors {
namespace {

namespace fs = std::filesystem;

const fs::path k_dir = LOGWIRE_VECTORS_DIR;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The stems of the vectors directory's files that end in `extension`.
std::set<std::string> stems_with(std::string_view extension) {
  std::set<std::string> out;
  for (const auto& entry : fs::directory_iterator(k_dir)) {
    if (entry.is_regular_file() && entry.path().extension() == extension) {
      out.insert(entry.path().stem().string());
    }
  }
  return out;
}

std::span<const std::byte> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

std::string text(const flatbuffers::String* value) {
  return value != nullptr ? value->str() : std::string();
}

// `bytes` copied to 8-aligned memory, where the FlatBuffers readers want it.
struct aligned_bytes {
  explicit aligned_bytes(std::span<const std::byte> bytes)
      : words(bytes.size() / sizeof(std::uint64_t) + 1), size(bytes.size()) {
    std::memcpy(words.data(), bytes.data(), bytes.size());
  }
  std::span<const std::byte> span() const {
    return {reinterpret_cast<const std::byte*>(words.data()), size};
  }
  std::vector<std::uint64_t> words;
  std::size_t size;
};

struct broker_view {
  nlohmann::json json;  // the envelope's decoded form, when it was accepted
  std::string refusal;  // why it was not
};

// A vector as the broker takes it: the DATA body of a message, checked by
// parse_remote_message, each record decoded by decode_record.
broker_view decode_as_broker(const std::string& file_bytes) {
  const aligned_bytes body(as_bytes(file_bytes));
  const std::array<std::span<const std::byte>, 3> frames{
      as_bytes(remote::k_protocol), as_bytes(remote::command::data), body.span()};
  const remote_message message = parse_remote_message(frames);
  if (const auto* refusal = std::get_if<remote_refusal>(&message)) {
    return {nullptr, std::string(refusal->code) + ": " + refusal->message};
  }
  const auto* data = std::get_if<data_message>(&message);
  if (data == nullptr) return {nullptr, "parse_remote_message did not answer with DATA"};
  const wire::Envelope& envelope = *data->envelope;
  vector_envelope decoded{.first_sequence = envelope.first_sequence(),
                          .dropped = envelope.dropped(),
                          .last_drop_ns = envelope.last_drop_ns(),
                          .acknowledged = envelope.acknowledged()};
  if (const auto* id = envelope.producer()) {
    decoded.producer = vector_identity{.service = text(id->service()),
                                       .host = text(id->host()),
                                       .pid = id->pid(),
                                       .instance_hi = id->instance_id()->hi(),
                                       .instance_lo = id->instance_id()->lo(),
                                       .language = text(id->language()),
                                       .library_version = text(id->library_version())};
  }
  if (const auto* records = envelope.records()) {
    for (const wire::RecordBuffer* buffer : *records) {
      const aligned_bytes bytes(record_bytes(*buffer));
      decoded.records.push_back({decode_record(bytes.span(), {})});
    }
  }
  return {envelope_json(decoded), ""};
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

TEST(vectors, every_bin_has_its_json_and_every_json_its_bin) {
  const auto bins = stems_with(".bin");
  const auto jsons = stems_with(".json");
  for (const auto& stem : bins) {
    EXPECT_TRUE(jsons.contains(stem)) << stem << ".bin has no " << stem << ".json beside it";
  }
  for (const auto& stem : jsons) {
    EXPECT_TRUE(bins.contains(stem)) << stem << ".json has no " << stem << ".bin beside it";
  }
}

TEST(vectors, every_envelope_passes_the_broker_and_decodes_to_its_json) {
  const auto bins = stems_with(".bin");
  ASSERT_FALSE(bins.empty()) << "no *.bin vectors in " << k_dir;
  std::vector<std::string> checked;
  for (const auto& stem : bins) {
    SCOPED_TRACE(stem + ".bin");
    checked.push_back(stem + ".bin");
    const broker_view view = decode_as_broker(read_file(k_dir / (stem + ".bin")));
    EXPECT_EQ(view.refusal, "") << "the broker refuses " << stem << ".bin";
    const fs::path json_path = k_dir / (stem + ".json");
    if (!view.refusal.empty() || !fs::exists(json_path)) continue;
    const auto expected = nlohmann::json::parse(read_file(json_path), nullptr, false);
    ASSERT_FALSE(expected.is_discarded()) << stem << ".json is not JSON";
    // nlohmann::json compares numbers by value, doubles exactly.
    EXPECT_TRUE(view.json == expected)
        << stem << ".bin does not decode to " << stem
        << ".json; the JSON Patch from the .json to what it decodes to:\n"
        << nlohmann::json::diff(expected, view.json).dump(2);
  }
  std::cout << "[ vectors  ] checked " << checked.size() << " in " << k_dir.string() << ": "
            << join(checked) << "\n";
  RecordProperty("checked", join(checked));
}

TEST(vectors, the_generator_makes_every_cpp_vector_byte_for_byte) {
  for (const cpp_vector& vector : cpp_vectors()) {
    SCOPED_TRACE(vector.name);
    const fs::path bin_path = k_dir / (vector.name + ".bin");
    ASSERT_TRUE(fs::exists(bin_path)) << bin_path << " is missing: run make_cpp_vectors";
    const std::string file = read_file(bin_path);
    const std::vector<std::byte> made = encode_envelope(vector.envelope);
    const std::span<const std::byte> committed = as_bytes(file);
    const auto [at, _] =
        std::mismatch(made.begin(), made.end(), committed.begin(), committed.end());
    EXPECT_TRUE(made.size() == committed.size() && at == made.end())
        << vector.name << ".bin differs from what the encoders make now (" << committed.size()
        << " bytes committed, " << made.size() << " made, first difference at byte "
        << (at - made.begin()) << "): rerun make_cpp_vectors if the change is intended";

    const auto json =
        nlohmann::json::parse(read_file(k_dir / (vector.name + ".json")), nullptr, false);
    EXPECT_TRUE(json == envelope_json(vector.envelope))
        << vector.name << ".json differs from the generator's; the JSON Patch from the file:\n"
        << nlohmann::json::diff(json, envelope_json(vector.envelope)).dump(2);
  }
}

TEST(vectors, every_cpp_file_is_a_vector_the_generator_makes) {
  std::set<std::string> names;
  for (const cpp_vector& vector : cpp_vectors()) names.insert(vector.name);
  for (const auto* extension : {".bin", ".json"}) {
    for (const auto& stem : stems_with(extension)) {
      if (stem.starts_with("cpp-")) {
        EXPECT_TRUE(names.contains(stem))
            << stem << extension << " is no vector of make_cpp_vectors: a stale file?";
      }
    }
  }
}

}  // namespace
}  // namespace logwire::test_vectors

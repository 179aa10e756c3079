// Writes the C++ test vectors (cpp_vectors.h) as <name>.bin and <name>.json into a
// directory: run by hand when a vector is added or the encoding changes, then commit
// what it wrote. vectors_test fails while the committed files differ from what it makes.
//
//   build/bin/make_cpp_vectors tests/vectors
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "vectors/cpp_vectors.h"

namespace {

void write_file(const std::filesystem::path& path, const void* data, std::size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output dir>\n", argv[0]);
    return 2;
  }
  try {
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    for (const auto& vector : logwire::test_vectors::cpp_vectors()) {
      const auto bytes = logwire::test_vectors::encode_envelope(vector.envelope);
      const std::string json = logwire::test_vectors::envelope_json(vector.envelope).dump(2) + "\n";
      write_file(dir / (vector.name + ".bin"), bytes.data(), bytes.size());
      write_file(dir / (vector.name + ".json"), json.data(), json.size());
      std::printf("%s: %zu bytes, %zu records\n", vector.name.c_str(), bytes.size(),
                  vector.envelope.records.size());
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_cpp_vectors: %s\n", e.what());
    return 1;
  }
}

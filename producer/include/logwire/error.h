// Errors as values at every I/O and IPC boundary: a caller sees what failed and why, and
// decides whether to show it, retry or give up. Exceptions are kept for process edges.
#pragma once

#include <boost/system/result.hpp>
#include <string>

namespace logwire {

enum class errc {
  invalid_argument,  // the caller asked for something malformed or out of range
  io_error,          // the operating system refused (file, socket, shared memory)
  not_found,         // the thing named does not exist (yet)
  already_running,   // another instance holds the resource
  incompatible,      // a peer or segment speaks another version or layout
  unavailable,       // the peer did not answer in time
  protocol_error,    // a peer sent something that is not the protocol
};

struct error {
  errc code;
  std::string message;
};

template <class T>
using result = boost::system::result<T, error>;

// Found by argument-dependent lookup when result<T>::value() is called on an error.
[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

}  // namespace logwire

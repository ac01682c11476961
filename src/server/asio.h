// The one place the daemon includes Boost.Asio.
#pragma once

// Boost 1.74's Asio uses std::exchange without including <utility>.
#include <cstddef>
#include <cstdint>
#include <utility>

#include <boost/asio.hpp>

namespace viasock {
namespace asio = boost::asio;
using LocalSocket = asio::local::stream_protocol::socket;

// For asio::async_write: write all, as many bytes per system call as the
// descriptor takes. Asio's own transfer_all hands at most 64 KiB to each
// write (default_max_transfer_size), so a 256 KiB batch for a tool cost four
// writes, each a trip through the event loop, on a pipe with room for all.
struct TransferAll {
  size_t operator()(const boost::system::error_code& error, size_t) const { return error ? 0 : SIZE_MAX; }
};
inline constexpr TransferAll kTransferAll{};
}  // namespace viasock

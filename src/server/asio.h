// The one place the daemon includes Boost.Asio.
#pragma once

// Boost 1.74's Asio uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio.hpp>

namespace viasock {
namespace asio = boost::asio;
using LocalSocket = asio::local::stream_protocol::socket;
}  // namespace viasock

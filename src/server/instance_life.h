// The life of a tool instance (instance.h), in the order it goes through;
// changed only by Instance::enter(), checked against the table in
// instance_life.cpp (lifecycle.h).
#pragma once

#include <string_view>

namespace viasock {

enum class InstanceLife {
  kStarting,  // the tool loads: it has not waited for input yet
  kReady,     // it waited for input: it takes work
  kRetiring,  // it takes no more work; its input closes once its batches are answered
  kClosing,   // its input is closed (or the tool closed it): it is to exit on its own
  kFinished,  // it exited, and its exit was handled
};

bool transition_allowed(InstanceLife from, InstanceLife to);
std::string_view state_name(InstanceLife state);

}  // namespace viasock

// Environment changes that last one test: a test that sets or unsets a
// variable must not leave it changed for the tests after it, nor depend on
// what the caller had (LC_ALL=C is common in CI systems and build scripts).
#pragma once

#include <cstdlib>
#include <map>
#include <optional>
#include <string>

namespace viasock::test {

// Every variable set or unset through it gets its caller's value back (or is
// unset again) when it goes out of scope.
class ScopedEnv {
 public:
  ScopedEnv() = default;
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    for (const auto& [name, value] : saved_) {
      if (value)
        setenv(name.c_str(), value->c_str(), 1);
      else
        unsetenv(name.c_str());
    }
  }

  void set(const std::string& name, const std::string& value) {
    save(name);
    setenv(name.c_str(), value.c_str(), 1);
  }

  void unset(const std::string& name) {
    save(name);
    unsetenv(name.c_str());
  }

 private:
  // Only the value before the first change is the caller's.
  void save(const std::string& name) {
    if (saved_.count(name)) return;
    const char* value = getenv(name.c_str());
    saved_[name] = value ? std::optional<std::string>(value) : std::nullopt;
  }

  std::map<std::string, std::optional<std::string>> saved_;
};

}  // namespace viasock::test

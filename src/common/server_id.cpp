#include "common/server_id.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "common/file_state.h"
#include "common/wire.h"

extern char** environ;

namespace viasock {
namespace {

// Feeds length-prefixed fields into SHA-256, so that no two different field
// lists hash the same bytes.
class Hasher {
 public:
  Hasher() {
    // Only what one digest needs: loading openssl.cnf, registering every
    // cipher and digest name and the at-exit clean-up cost a warm call more
    // than the whole rest of the client (measured with callgrind).
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
                            OPENSSL_INIT_NO_ADD_ALL_DIGESTS | OPENSSL_INIT_NO_ATEXIT,
                        nullptr);
    ctx_ = EVP_MD_CTX_new();
    if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1)
      throw std::runtime_error("SHA-256 is not available from OpenSSL");
  }
  ~Hasher() { EVP_MD_CTX_free(ctx_); }
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void field(std::string_view tag, std::string_view value) {
    std::string head = std::string(tag) + ":" + std::to_string(value.size()) + ":";
    EVP_DigestUpdate(ctx_, head.data(), head.size());
    EVP_DigestUpdate(ctx_, value.data(), value.size());
  }

  // The state of `path` (file_state.h), or nothing when it does not exist.
  void file_state(std::string_view tag, const std::string& path) {
    FileState state = read_file_state(path);
    if (state.exists) field(tag, path + "|" + state.text());
  }

  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx_, digest, &length);
    static const char kDigits[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
      out += kDigits[digest[i] >> 4];
      out += kDigits[digest[i] & 15];
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_ = nullptr;
};

// A watched directory changes when anything below it does, so every entry
// counts (sorted: readdir order is not stable across file systems).
void hash_watched(Hasher& hasher, const std::string& path) {
  hasher.file_state("watch", path);
  std::error_code error;
  if (!std::filesystem::is_directory(path, error)) return;
  std::vector<std::string> entries;
  constexpr size_t kMaxEntries = 100000;
  for (std::filesystem::recursive_directory_iterator it(path, error), end; !error && it != end; it.increment(error)) {
    entries.push_back(it->path().string());
    if (entries.size() >= kMaxEntries) break;
  }
  std::sort(entries.begin(), entries.end());
  for (const auto& entry : entries) hasher.file_state("watched-entry", entry);
}

// Variables that change what programs print or which program runs, by
// default (Mercurial's chg hashes a similar list): locale, time zone, the
// search paths of the shell, the dynamic loader and Python, and the active
// Python or Conda environment.
bool changes_output(std::string_view name) {
  static constexpr std::string_view kExact[] = {"LANG", "LANGUAGE", "TZ", "PATH", "VIRTUAL_ENV", "CONDA_PREFIX"};
  static constexpr std::string_view kPrefixes[] = {"LC_", "LD_", "PYTHON"};
  for (auto exact : kExact)
    if (name == exact) return true;
  for (auto prefix : kPrefixes)
    if (name.starts_with(prefix)) return true;
  return false;
}

}  // namespace

std::vector<std::string> identity_environment(char** env) {
  std::vector<std::string> chosen;
  for (char** entry = env; entry && *entry; ++entry) {
    std::string_view variable(*entry);
    if (changes_output(variable.substr(0, variable.find('=')))) chosen.emplace_back(variable);
  }
  // environ's order depends on how the caller built it.
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

IdentityContext current_context(const std::string& tool_path) {
  IdentityContext context;
  context.tool_path = tool_path;
  char buffer[4096];
  if (getcwd(buffer, sizeof buffer)) context.cwd = buffer;
  if (gethostname(buffer, sizeof buffer) == 0) {
    buffer[sizeof buffer - 1] = '\0';
    context.host = buffer;
  }
  return context;
}

std::string compute_server_id(const RunOptions& options, const IdentityContext& context) {
  Hasher hasher;
  hasher.field("protocol", std::to_string(wire::kProtocolVersion));
  hasher.field("host", context.host);
  hasher.field("cwd", context.cwd);
  hasher.field("tool", context.tool_path);
  hasher.file_state("tool-state", context.tool_path);
  for (const auto& arg : options.args) {
    hasher.field("arg", arg);
    hasher.file_state("arg-file", arg);
    size_t eq = arg.find('=');
    if (arg.starts_with("-") && eq != std::string::npos) hasher.file_state("arg-value-file", arg.substr(eq + 1));
  }
  for (const auto& option : identity_args(options)) hasher.field("option", option);
  for (const auto& path : options.watch) hash_watched(hasher, path);
  for (const auto& variable : identity_environment(environ)) hasher.field("env-default", variable);
  for (const auto& name : options.env) {
    const char* value = getenv(name.c_str());
    hasher.field("env", value ? name + "=" + value : name + " unset");
  }
  return hasher.hex();
}

}  // namespace viasock

// Hashing, HMAC, Base64 and randomness (OpenSSL underneath).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gabe::crypto {

std::string sha256(std::string_view data);                             // raw 32 bytes
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string base64_encode(std::string_view data);
std::optional<std::string> base64_decode(std::string_view text);
std::string hex(std::string_view data);
// Cryptographically random bytes.
std::string random_bytes(std::size_t n);
// Compares in time that depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace gabe::crypto

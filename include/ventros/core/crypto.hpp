#pragma once
// Hashing and randomness (OpenSSL underneath). Thread-safe.

#include <string>
#include <string_view>

namespace ventros::core {

std::string Sha256Hex(std::string_view data);
std::string HmacSha512Hex(std::string_view key, std::string_view data);
// Cryptographically secure random bytes, hex-encoded / base62-encoded.
std::string RandomHex(size_t bytes);
std::string RandomBase62(size_t length);
// Compares in time that depends only on the lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);
std::string ToHex(std::string_view bytes);

}  // namespace ventros::core

// Bearer tokens: "gabe_" + 43 random Base64url characters. Only their SHA-256 is stored; a
// request's token is hashed and looked up by hash (a short cache saves the round trip).
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "gabe/db.hpp"
#include "gabe/http.hpp"

namespace gabe::auth {

std::string generate_token();
std::string generate_webhook_secret();  // "whsec_" + Base64 of 24 random bytes
std::string token_hash_hex(std::string_view token);

// Token management, inside the caller's transaction, each with its audit entry (`service`,
// `actor`): token.create with {"name", "role"}, token.revoke with {"revoked": n}.
// Creates a token called `name` with `role` and returns it: only its hash is stored, so this
// is the one time it can be shown. Names need not be unique (a rotation creates a second one).
std::string create_token(pqxx::transaction_base& tx, const std::string& name, Role role,
                         const std::string& service, const std::string& actor);
// Revokes every active token called `name` (services notice within their cache time, 5 s)
// and returns how many; throws 404 when there is none.
std::size_t revoke_tokens(pqxx::transaction_base& tx, const std::string& name,
                          const std::string& service, const std::string& actor);

class TokenAuthenticator {
 public:
  explicit TokenAuthenticator(db::Pool& pool,
                              std::chrono::seconds cache_ttl = std::chrono::seconds(5));
  // Fills request.actor and request.role, or throws 401 (missing/unknown) or 403 (role).
  void authenticate(http::Request& request, Role min_role);
  // The same for a token that came another way than the header (a calendar feed's ?token=).
  void authenticate_token(http::Request& request, std::string_view token, Role min_role);

 private:
  struct Entry {
    std::string name;
    Role role = Role::viewer;
    std::chrono::steady_clock::time_point expires;
  };
  db::Pool& pool_;
  std::chrono::seconds ttl_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> cache_;
};

}  // namespace gabe::auth

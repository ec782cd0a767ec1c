#include "gabe/auth.hpp"

#include <cctype>

#include "gabe/crypto.hpp"
#include "gabe/json.hpp"
#include "gabe/service.hpp"
#include "platform_queries.hpp"

namespace gabe::auth {

namespace {

std::string base64url(std::string_view bytes) {
  std::string s = crypto::base64_encode(bytes);
  for (auto& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

}  // namespace

std::string generate_token() {
  return "gabe_" + base64url(crypto::random_bytes(32));
}
std::string generate_webhook_secret() {
  return "whsec_" + crypto::base64_encode(crypto::random_bytes(24));
}
std::string token_hash_hex(std::string_view token) {
  return crypto::hex(crypto::sha256(token));
}

std::string create_token(pqxx::transaction_base& tx, const std::string& name, Role role,
                         const std::string& service, const std::string& actor) {
  auto token = generate_token();
  tx.exec_params(
      "INSERT INTO gabe.api_tokens (name, role, token_hash) VALUES ($1, $2, decode($3, 'hex'))",
      name, std::string(role_name(role)), token_hash_hex(token));
  JsonWriter d;
  d.begin_object().field("name", name).field("role", role_name(role)).end_object();
  record_audit(tx, service, actor, "token.create", "token:" + name, d.take());
  return token;
}

std::size_t revoke_tokens(pqxx::transaction_base& tx, const std::string& name,
                          const std::string& service, const std::string& actor) {
  const auto n = static_cast<std::size_t>(
      tx.exec_params(
            "UPDATE gabe.api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL",
            name)
          .affected_rows());
  if (n == 0) throw not_found("No active token named '" + name + "'.");
  JsonWriter d;
  d.begin_object().field("revoked", static_cast<std::int64_t>(n)).end_object();
  record_audit(tx, service, actor, "token.revoke", "token:" + name, d.take());
  return n;
}

TokenAuthenticator::TokenAuthenticator(db::Pool& pool, std::chrono::seconds cache_ttl)
    : pool_(pool), ttl_(cache_ttl) {}

void TokenAuthenticator::authenticate(http::Request& request, Role min_role) {
  auto header = request.header("authorization");
  // RFC 7235 2.1: the scheme name is case-insensitive ("bearer", "BEARER").
  constexpr std::string_view kBearer = "bearer ";
  const auto is_bearer = [&](std::string_view h) {
    if (h.size() <= kBearer.size()) return false;
    for (std::size_t i = 0; i < kBearer.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(h[i])) != kBearer[i]) return false;
    }
    return true;
  };
  if (!header || !is_bearer(*header)) {
    throw unauthorized("A bearer token is required (Authorization: Bearer <token>).");
  }
  authenticate_token(request, header->substr(kBearer.size()), min_role);
}

void TokenAuthenticator::authenticate_token(http::Request& request, std::string_view token,
                                            Role min_role) {
  if (token.empty() || token.size() > 200) throw unauthorized("The token is not valid.");
  const std::string hash = token_hash_hex(token);
  const auto now = std::chrono::steady_clock::now();
  std::optional<Entry> found;
  {
    std::lock_guard lock(mutex_);
    auto it = cache_.find(hash);
    if (it != cache_.end() && it->second.expires > now) found = it->second;
  }
  if (!found) {
    found = pool_.run([&](pqxx::connection& c) -> std::optional<Entry> {
      pqxx::nontransaction tx(c);
      auto rows = tx.exec_params(sql::kTokenByHash, hash);
      if (rows.empty()) return std::nullopt;
      auto role = parse_role(rows[0][1].c_str());
      if (!role) return std::nullopt;
      return Entry{rows[0][0].c_str(), *role, now + ttl_};
    });
    if (!found) throw unauthorized("The token is not valid.");
    std::lock_guard lock(mutex_);
    if (cache_.size() > 10000) cache_.clear();
    cache_[hash] = *found;
  }
  if (static_cast<int>(found->role) < static_cast<int>(min_role)) {
    throw forbidden("This needs the role " + std::string(role_name(min_role)) + ".");
  }
  request.actor = found->name;
  request.role = found->role;
}

}  // namespace gabe::auth

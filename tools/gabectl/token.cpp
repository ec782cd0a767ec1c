// gabectl token create|revoke: API tokens through the auth library.
#include <iostream>

#include "commands.hpp"
#include "gabe/auth.hpp"

namespace gabe::gabectl {

namespace {
constexpr const char* kAuditService = "gabectl";
}

int token_create(const Args& args) {
  const auto role = parse_role(args.need("role"));
  if (!role) throw UsageError("--role must be admin, fundraiser or viewer");
  const auto name = args.need("name");
  auto conn = connect_database();
  pqxx::work tx(conn);
  const auto token = auth::create_token(tx, name, *role, kAuditService, operator_actor());
  tx.commit();
  std::cout << "Created " << role_name(*role) << " token '" << name << "'. It is shown only now:\n"
            << token << "\n";
  return 0;
}

int token_revoke(const Args& args) {
  const auto name = args.need("name");
  auto conn = connect_database();
  pqxx::work tx(conn);
  const auto n = auth::revoke_tokens(tx, name, kAuditService, operator_actor());
  tx.commit();
  std::cout << "Revoked " << n << " token(s) named '" << name
            << "' (services notice within 5 s).\n";
  return 0;
}

}  // namespace gabe::gabectl

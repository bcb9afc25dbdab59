// What docs/GUARD.md's "One guard per channel" takes for granted.
sg::ed25519_public_key publisher_key{};
extern sg::schema my_schema;
std::string machine_id;

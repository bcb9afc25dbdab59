// The declarations of the sample before it, a payload, and the host's use.
using doc_SCHEMA_md_2::kProcessRule;
const sg::schema& schema = *doc_SCHEMA_md_2::schema;
sg::byte_view payload;
template <class T>
void use(const T&) {}

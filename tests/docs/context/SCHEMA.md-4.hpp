// The product's own format check, and a payload.
bool my_format_ok(sg::byte_view payload);
sg::byte_view payload;

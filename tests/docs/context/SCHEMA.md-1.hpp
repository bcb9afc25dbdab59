// The record type a template declares, and the interpreter's input count.
constexpr sg::field_decl kTemplateFields[] = {sg::fields::u8("a"), sg::fields::u32("b")};
constexpr sg::record_decl kTemplateInput{1, "template_input", kTemplateFields};
constexpr std::size_t kInterpreterInputs = 2;

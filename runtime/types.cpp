// types.cpp: type tags: the names of the standard tags and scheme_make_type's new tags from
// _scheme_last_type_ up to KEEL_MAX_TYPE_TAGS - 1. Tags are process-global, as in Racket
// (every place sees the same tag for a type); the registry is safe to use from any thread.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "scheme.h"

namespace keel::rt {

namespace {

struct StandardName {
  Scheme_Type tag;
  const char* name;
};

// Racket's printed names for its standard types (angle brackets included, as Racket's own
// type names carry them).
constexpr StandardName kStandardNames[] = {
    {scheme_toplevel_type, "<toplevel>"},
    {scheme_prim_type, "<primitive>"},
    {scheme_closed_prim_type, "<primitive>"},
    {scheme_closure_type, "<procedure>"},
    {scheme_case_closure_type, "<case-lambda-procedure>"},
    {scheme_cont_type, "<continuation>"},
    {scheme_escaping_cont_type, "<escape-continuation>"},
    {scheme_proc_struct_type, "<procedure-struct>"},
    {scheme_native_closure_type, "<procedure>"},
    {scheme_proc_chaperone_type, "<procedure-chaperone>"},
    {scheme_chaperone_type, "<chaperone>"},
    {scheme_structure_type, "<struct>"},
    {scheme_integer_type, "<fixnum-integer>"},
    {scheme_bignum_type, "<bignum-integer>"},
    {scheme_rational_type, "<fractional-number>"},
    {scheme_float_type, "<single-flonum-real-number>"},
    {scheme_double_type, "<flonum-real-number>"},
    {scheme_complex_type, "<complex-number>"},
    {scheme_char_type, "<char>"},
    {scheme_long_double_type, "<extflonum>"},
    {scheme_char_string_type, "<string>"},
    {scheme_byte_string_type, "<byte-string>"},
    {scheme_unix_path_type, "<unix-path>"},
    {scheme_windows_path_type, "<windows-path>"},
    {scheme_symbol_type, "<symbol>"},
    {scheme_keyword_type, "<keyword>"},
    {scheme_null_type, "<empty-list>"},
    {scheme_pair_type, "<pair>"},
    {scheme_mutable_pair_type, "<mutable-pair>"},
    {scheme_vector_type, "<vector>"},
    {scheme_inspector_type, "<inspector>"},
    {scheme_input_port_type, "<input-port>"},
    {scheme_output_port_type, "<output-port>"},
    {scheme_eof_type, "<eof>"},
    {scheme_true_type, "<true>"},
    {scheme_false_type, "<false>"},
    {scheme_void_type, "<void>"},
    {scheme_syntax_compiler_type, "<syntax-compiler>"},
    {scheme_macro_type, "<macro>"},
    {scheme_box_type, "<box>"},
    {scheme_thread_type, "<thread>"},
    {scheme_cont_mark_set_type, "<continuation-mark-set>"},
    {scheme_sema_type, "<semaphore>"},
    {scheme_hash_table_type, "<hash>"},
    {scheme_hash_tree_type, "<hash>"},
    {scheme_cpointer_type, "<cpointer>"},
    {scheme_offset_cpointer_type, "<cpointer>"},
    {scheme_weak_box_type, "<weak-box>"},
    {scheme_ephemeron_type, "<ephemeron>"},
    {scheme_namespace_type, "<namespace>"},
    {scheme_cust_box_type, "<custodian-box>"},
    {scheme_flvector_type, "<flvector>"},
    {scheme_place_type, "<place>"},
    {scheme_place_bi_channel_type, "<place-channel>"},
    {scheme_phantom_bytes_type, "<phantom-bytes>"},
};

// Process-global by design (tags are shared by all places), so not tied to a collector.
// Names are published with release stores and read without the lock; only scheme_make_type
// takes it. Made names are strdup'd and live as long as the process, like the tags.
class TypeRegistry {
 public:
  TypeRegistry() {
    for (const StandardName& s : kStandardNames) {
      names_[s.tag].store(s.name, std::memory_order_relaxed);
    }
  }

  // The new tag, or -1 when all are taken.
  int Make(const char* name) {
    std::lock_guard<std::mutex> lock(mu_);
    if (next_ >= KEEL_MAX_TYPE_TAGS) return -1;
    int tag = next_++;
    names_[tag].store(name, std::memory_order_release);
    return tag;
  }

  const char* Name(int tag) const {
    if (tag < 0 || tag >= KEEL_MAX_TYPE_TAGS) return nullptr;
    return names_[tag].load(std::memory_order_acquire);
  }

 private:
  std::mutex mu_;
  int next_ = _scheme_last_type_;
  std::atomic<const char*> names_[KEEL_MAX_TYPE_TAGS] = {};
};

TypeRegistry& Registry() {
  static TypeRegistry registry;  // thread-safe initialization
  return registry;
}

}  // namespace

}  // namespace keel::rt

extern "C" {

Scheme_Type scheme_make_type(const char* name) {
  const char* shown = name != nullptr ? name : "<unnamed>";
  char* copy = strdup(shown);
  if (copy == nullptr) scheme_raise_out_of_memory("scheme_make_type", "(copying the name)");
  int tag = keel::rt::Registry().Make(copy);
  // The lock is released before escaping: a longjmp must not skip the lock_guard.
  if (tag < 0) {
    std::free(copy);
    scheme_signal_error("scheme_make_type: no more type tags (limit %d) for %s",
                        KEEL_MAX_TYPE_TAGS, shown);
  }
  return static_cast<Scheme_Type>(tag);
}

const char* scheme_get_type_name(Scheme_Type type) { return keel::rt::Registry().Name(type); }

}  // extern "C"

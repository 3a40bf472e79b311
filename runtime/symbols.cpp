// symbols.cpp: interning (scheme_intern_symbol, scheme_intern_exact_symbol) over a weak,
// per-runtime table; see symbols.h for why the table does not keep symbols alive. The name is
// registered across the symbol's allocation (roots.md .sol.frames).
#include "runtime/symbols.h"

#include <cstring>

#include "runtime/alloc.h"
#include "runtime/gc_frame.h"
#include "runtime/runtime.h"

namespace keel::rt {

SymbolTable::SymbolTable(gc::Collector& collector) : collector_(collector) {
  collector.AddWeakCallback(&SymbolTable::DropUnmarked, this);
}

// Also runs from the collector's destructor (through the Runtime), while its callback list
// still exists.
SymbolTable::~SymbolTable() { collector_.RemoveWeakCallback(&SymbolTable::DropUnmarked, this); }

Scheme_Object* SymbolTable::Intern(const char* name, size_t len, const char* who) {
  if (len > kMaxObjectBytes) scheme_raise_out_of_memory(who, "(a %zu-byte symbol name)", len);
  if (name == nullptr && len != 0) scheme_signal_error("%s: the name is NULL", who);
  auto found = map_.find(std::string_view(name, len));
  if (found != map_.end()) return reinterpret_cast<Scheme_Object*>(found->second);

  // The allocation may collect, and the weak callback may then erase entries: no iterator is
  // held across it. The symbol has no pointers, so it is atomic and never scanned. It never
  // moves (an allow-interior kind): the table's key is a view of its characters, and
  // SCHEME_SYM_VAL hands out an interior pointer (precise.md .req.never-move).
  size_t bytes = ArrayBytes(offsetof(Scheme_Symbol, s), static_cast<intptr_t>(len) + 1, 1, who,
                            sizeof(Scheme_Symbol));
  GcFrame frame(name);  // the caller's name may be collectable
  auto* sym = static_cast<Scheme_Symbol*>(scheme_malloc_atomic_allow_interior(bytes));
  InitHeader(sym, scheme_symbol_type);
  sym->len = static_cast<intptr_t>(len);
  if (len != 0) std::memcpy(sym->s, name, len);
  sym->s[len] = '\0';
  map_.emplace(std::string_view(sym->s, len), sym);
  return reinterpret_cast<Scheme_Object*>(sym);
}

// After marking, before sweeping: the keys of dropped entries still point at readable chars.
// Only frees malloc'd nodes; never allocates from the collector.
void SymbolTable::DropUnmarked(gc::Collector& collector, void* data) {
  auto& map = static_cast<SymbolTable*>(data)->map_;
  for (auto it = map.begin(); it != map.end();) {
    if (collector.IsMarked(it->second)) {
      ++it;
    } else {
      it = map.erase(it);
    }
  }
}

}  // namespace keel::rt

extern "C" {

Scheme_Object* scheme_intern_symbol(const char* name) {
  if (name == nullptr) scheme_signal_error("scheme_intern_symbol: the name is NULL");
  return keel::rt::Runtime::Current().symbols().Intern(name, std::strlen(name),
                                                       "scheme_intern_symbol");
}

Scheme_Object* scheme_intern_exact_symbol(const char* name, uintptr_t len) {
  return keel::rt::Runtime::Current().symbols().Intern(name, len, "scheme_intern_exact_symbol");
}

}  // extern "C"

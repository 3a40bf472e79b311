// symbols.h: a runtime's symbol table. Interned symbols are atomic objects with inline chars;
// the table lives in malloc'd memory, so it holds them weakly: a weak callback drops the entries
// of symbols that a collection found unreachable, before they are swept.
#ifndef KEEL_RUNTIME_SYMBOLS_H
#define KEEL_RUNTIME_SYMBOLS_H

#include <cstddef>
#include <string_view>
#include <unordered_map>

#include "gc/collector.h"
#include "scheme.h"

namespace keel::rt {

// Owned by a Runtime; used only on its collector's thread. Invariant: every entry's key views
// the chars of its own symbol, which is alive (unmarked symbols are dropped before the sweep).
class SymbolTable {
 public:
  explicit SymbolTable(gc::Collector& collector);
  ~SymbolTable();
  SymbolTable(const SymbolTable&) = delete;
  SymbolTable& operator=(const SymbolTable&) = delete;

  // The symbol named by the len bytes at name (NULs allowed), created on first use. May
  // collect; may escape with out of memory.
  Scheme_Object* Intern(const char* name, size_t len, const char* who);
  size_t size() const { return map_.size(); }

 private:
  static void DropUnmarked(gc::Collector& collector, void* data);

  gc::Collector& collector_;
  std::unordered_map<std::string_view, Scheme_Symbol*> map_;
};

}  // namespace keel::rt

#endif  // KEEL_RUNTIME_SYMBOLS_H

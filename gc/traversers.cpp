// traversers.cpp: the traverser table and the traversal hook (traversers.h,
// docs/design/precise.md .sol.traversers).
#include "gc/traversers.h"

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

#include "gc/fatal.h"

namespace keel::gc {
namespace {

using Slot = std::atomic<const Traversers*>;

// The table lives in malloc memory, allocated at the first registration: as a static array it
// would be 32 KiB of the library's data that CGC scans at every collection (roots.md
// .sol.statics), 4096 words for nothing.
std::atomic<Slot*> g_table{nullptr};
std::mutex g_register_mu;  // registrations are rare; lookups take no lock
// Records replaced by a later registration of their tag: kept, since another thread may still
// read one, and reachable, so that leak checkers do not report them.
std::vector<std::unique_ptr<const Traversers>> g_replaced;

constinit thread_local Tracer* t_tracer __attribute__((tls_model("initial-exec"))) = nullptr;
constinit thread_local Tracer::Holder t_holder __attribute__((tls_model("initial-exec"))) = Tracer::Holder::kRoot;

}  // namespace

void TraverserTable::Register(int tag, const Traversers& t) {
  if (tag < 0 || tag >= kMaxTags) {
    Fatal("GC_register_traversers: tag %d is outside [0, %d)", tag, kMaxTags);
  }
  if (t.size == nullptr || (!t.atomic && (t.mark == nullptr || t.fixup == nullptr))) {
    Fatal("GC_register_traversers: tag %d needs a size procedure%s", tag,
          t.atomic ? "" : " and, unless it is atomic, mark and fixup procedures");
  }
  std::lock_guard<std::mutex> lock(g_register_mu);
  Slot* table = g_table.load(std::memory_order_acquire);
  if (table == nullptr) {
    table = static_cast<Slot*>(std::calloc(kMaxTags, sizeof(Slot)));  // all null
    if (table == nullptr) Fatal("GC_register_traversers: out of memory for the traverser table");
    g_table.store(table, std::memory_order_release);
  }
  auto* record = new (std::nothrow) Traversers(t);
  if (record == nullptr) Fatal("GC_register_traversers: out of memory for tag %d", tag);
  if (const Traversers* old = table[tag].exchange(record, std::memory_order_acq_rel)) g_replaced.emplace_back(old);
}

const Traversers* TraverserTable::Find(int tag) {
  if (tag < 0 || tag >= kMaxTags) return nullptr;
  const Slot* table = g_table.load(std::memory_order_acquire);
  return table == nullptr ? nullptr : table[tag].load(std::memory_order_acquire);
}

TraversalScope::TraversalScope(Tracer& tracer, Tracer::Holder holder)
    : saved_tracer_(t_tracer), saved_holder_(t_holder) {
  t_tracer = &tracer;
  t_holder = holder;
}

TraversalScope::~TraversalScope() {
  t_tracer = saved_tracer_;
  t_holder = saved_holder_;
}

void TraversalScope::VisitSlot(void** slot, const char* who) {
  Tracer* t = t_tracer;
  if (t == nullptr) Fatal("%s: called outside a collection (only a registered mark or fixup procedure may call it)", who);
  t->VisitSlot(slot, t_holder);
}

void* TraversalScope::Resolve(void* p) {
  Tracer* t = t_tracer;
  return t == nullptr ? p : t->Resolve(p);
}

}  // namespace keel::gc

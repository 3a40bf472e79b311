// traversers.cpp: the traverser table and the traversal hook (traversers.h,
// docs/design/precise.md .sol.traversers).
#include "gc/traversers.h"

#include <atomic>
#include <mutex>
#include <new>

#include "gc/fatal.h"

namespace keel::gc {
namespace {

std::atomic<const Traversers*> g_table[TraverserTable::kMaxTags];
std::mutex g_register_mu;  // registrations are rare; lookups take no lock

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
  // The record a reader may still hold stays valid: records are never freed (a handful per
  // tag over a process's life).
  const auto* record = new (std::nothrow) Traversers(t);
  if (record == nullptr) Fatal("GC_register_traversers: out of memory for tag %d", tag);
  g_table[tag].store(record, std::memory_order_release);
}

const Traversers* TraverserTable::Find(int tag) {
  if (tag < 0 || tag >= kMaxTags) return nullptr;
  return g_table[tag].load(std::memory_order_acquire);
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

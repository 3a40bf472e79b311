// type_traversers.h: the traversers of the runtime's own tagged types (pairs, strings, vectors,
// boxes, bignums, C pointers, namespaces), so that a precise collector traces them
// (docs/design/precise.md .sol.traversers). CGC scans the same objects word by word and never
// calls them.
#ifndef KEEL_RUNTIME_TYPE_TRAVERSERS_H
#define KEEL_RUNTIME_TYPE_TRAVERSERS_H

namespace keel::rt {

// Registers them in the process-wide table, once per process (later calls return at once).
// memory_api.cpp calls it while the library is loaded, before any runtime object exists.
void RegisterTypeTraversers();

}  // namespace keel::rt

#endif  // KEEL_RUNTIME_TYPE_TRAVERSERS_H

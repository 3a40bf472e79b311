/* registry.h: a small C "library" that knows nothing about Keel. It stores opaque handles
 * (void *) given to it and later calls back with each one, the way a C event or callback library
 * does. Its table lives in malloc'd memory, which Keel's collector never scans: a handle stored
 * here does not by itself keep anything alive. */
#ifndef SAMPLE_REGISTRY_H
#define SAMPLE_REGISTRY_H

#include <stddef.h>

typedef void (*registry_callback)(void *handle, void *user_data);

/* Stores handle; returns its id (>= 0), or -1 when out of memory. */
int registry_add(void *handle);
/* Forgets the handle with this id and returns it; NULL if the id is unknown. */
void *registry_remove(int id);
/* How many handles are stored. */
size_t registry_count(void);
/* Calls cb(handle, user_data) for every stored handle, in the order they were added. */
void registry_for_each(registry_callback cb, void *user_data);
/* Frees the table (every handle must have been removed first). */
void registry_shutdown(void);

#endif /* SAMPLE_REGISTRY_H */

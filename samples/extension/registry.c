/* registry.c: the C library of the extension sample (registry.h). Plain C and malloc; it does
 * not include any Keel header. */
#include "registry.h"

#include <stdlib.h>

struct slot {
  void *handle;
  int used;
};

static struct slot *slots; /* malloc'd: invisible to the collector */
static int slot_count;
static int slot_capacity;

int registry_add(void *handle) {
  if (slot_count == slot_capacity) {
    int capacity = slot_capacity ? slot_capacity * 2 : 4;
    struct slot *grown = realloc(slots, (size_t)capacity * sizeof *grown);
    if (grown == NULL) return -1;
    slots = grown;
    slot_capacity = capacity;
  }
  slots[slot_count].handle = handle;
  slots[slot_count].used = 1;
  return slot_count++;
}

void *registry_remove(int id) {
  void *handle;
  if (id < 0 || id >= slot_count || !slots[id].used) return NULL;
  handle = slots[id].handle;
  slots[id].handle = NULL;
  slots[id].used = 0;
  return handle;
}

size_t registry_count(void) {
  size_t n = 0;
  for (int i = 0; i < slot_count; i++) n += (size_t)slots[i].used;
  return n;
}

void registry_for_each(registry_callback cb, void *user_data) {
  for (int i = 0; i < slot_count; i++) {
    if (slots[i].used) cb(slots[i].handle, user_data);
  }
}

void registry_shutdown(void) {
  free(slots);
  slots = NULL;
  slot_count = slot_capacity = 0;
}

/* debug_alloc.c: a C file of a bdwgc program built with GC_DEBUG (CMake defines it for this file
 * only), so the GC_MALLOC family expands to the GC_debug_* entry points. gc_debug_test.cpp
 * drives it. */
#include <string.h>

#include "gc.h"

#ifndef GC_DEBUG
#error "debug_alloc.c must be compiled with GC_DEBUG"
#endif

#define DEBUG_STR2(...) #__VA_ARGS__
#define DEBUG_STR(...) DEBUG_STR2(__VA_ARGS__)

/* What the allocation macros expand to in this file. */
const char *debug_malloc_expansion(void) { return DEBUG_STR(GC_MALLOC(8)); }
const char *debug_free_expansion(void) { return DEBUG_STR(GC_FREE(p)); }

struct debug_node {
  struct debug_node *next;
  long value;
  char *label;
};

/* A list of n nodes holding 0..n-1, each with a GC_STRDUP'd label and an atomic buffer. */
struct debug_node *debug_make_list(int n) {
  struct debug_node *head = NULL;
  int i;
  for (i = n - 1; i >= 0; i--) {
    struct debug_node *node = GC_NEW(struct debug_node);
    char label[32];
    char *buf = (char *)GC_MALLOC_ATOMIC(100);
    memset(buf, 'x', 100); /* garbage right away */
    node->next = head;
    node->value = i;
    label[0] = 'n';
    label[1] = (char)('0' + i % 10);
    label[2] = 0;
    node->label = GC_STRDUP(label);
    head = node;
  }
  return head;
}

/* 1 when the list still holds 0..n-1 with the right labels. */
int debug_check_list(const struct debug_node *head, int n) {
  int i;
  for (i = 0; i < n; i++, head = head->next) {
    if (!head || head->value != i) return 0;
    if (!head->label || head->label[0] != 'n' || head->label[1] != (char)('0' + i % 10) || head->label[2]) return 0;
  }
  return head == NULL;
}

/* GC_REALLOC grows an object and keeps its contents; returns 1 on success. */
int debug_realloc_keeps_contents(void) {
  long *p = (long *)GC_MALLOC(10 * sizeof(long));
  int i;
  for (i = 0; i < 10; i++) p[i] = i * 7;
  p = (long *)GC_REALLOC(p, 1000 * sizeof(long));
  if (!p) return 0;
  for (i = 0; i < 10; i++)
    if (p[i] != i * 7) return 0;
  p[999] = 1; /* the whole new size is usable */
  return 1;
}

/* An uncollectable debug block, released with GC_FREE. */
void *debug_uncollectable(size_t n) { return GC_MALLOC_UNCOLLECTABLE(n); }
void debug_free(void *p) { GC_FREE(p); }
void *debug_malloc(size_t n) { return GC_MALLOC(n); }

/* A small real program whose memory trace (valgrind --tool=lackey
 * --trace-mem=yes) the trace-replay tests run: heap allocation, a linked
 * list, an array sort and string hashing, on top of the C runtime's own
 * start-up and exit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile unsigned long sink;

struct node {
  struct node* next;
  unsigned long value;
};

static int cmp(const void* a, const void* b) {
  const unsigned long x = *(const unsigned long*)a, y = *(const unsigned long*)b;
  return x < y ? -1 : x > y;
}

int main(void) {
  enum { N = 300 };
  unsigned long* a = malloc(N * sizeof *a);
  struct node* head = NULL;
  unsigned long seed = 12345, sum = 0;
  char word[32];
  unsigned long hash = 5381;
  int i;
  if (!a) return 1;
  for (i = 0; i < N; ++i) {
    seed = seed * 6364136223846793005ul + 1442695040888963407ul;
    a[i] = seed >> 33;
    struct node* n = malloc(sizeof *n);
    if (!n) return 1;
    n->value = a[i];
    n->next = head;
    head = n;
  }
  qsort(a, N, sizeof *a, cmp);
  for (struct node* n = head; n; n = n->next) sum += n->value;
  for (i = 0; i < 150; ++i) {
    snprintf(word, sizeof word, "word%d", i);
    for (const char* p = word; *p; ++p) hash = hash * 33 + (unsigned char)*p;
  }
  while (head) {
    struct node* n = head->next;
    free(head);
    head = n;
  }
  /* Keep the results live without printing (stdout would mix into the trace). */
  sink = a[0] ^ sum ^ hash;
  free(a);
  return 0;
}

/*
 * bench/swarm-common.h: what the benches' C clients (flv-swarm.c, whep-swarm.c) share: the clock,
 * their own CPU time, a qsort comparator, and failure reasons counted by text for the JSON line.
 * Header-only (static functions), so each client stays one `gcc -O2 file.c` away.
 */
#ifndef SWARM_COMMON_H
#define SWARM_COMMON_H
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

/* this process's CPU seconds, user + system */
static double self_cpu(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* ---- failure reasons: a handful of distinct strings with counts (the rest are not counted) ---- */
#define REASONS 16
static struct { char text[96]; int count; } reasons[REASONS];
static void fail_reason(const char *text) {
  for (int i = 0; i < REASONS; i++) {
    if (!reasons[i].count) {
      snprintf(reasons[i].text, sizeof reasons[i].text, "%s", text);
      reasons[i].count = 1;
      return;
    }
    if (!strcmp(reasons[i].text, text)) {
      reasons[i].count++;
      return;
    }
  }
}

/* the reasons as the members of a JSON object: "text":count,... */
static void print_reasons(void) {
  for (int i = 0; i < REASONS && reasons[i].count; i++)
    printf("%s\"%s\":%d", i ? "," : "", reasons[i].text, reasons[i].count);
}
#endif

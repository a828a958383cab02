/*
 * dropFilePages(path) -> bytes: unmaps from this process the resident pages of every shared
 * mapping of `path` (madvise MADV_DONTNEED); the pages stay in the page cache and the next
 * access maps them again.
 *
 * Why: LMDB reads the index through a shared read-only map, and the kernel maps the cached
 * neighbours of each page it faults in. Start-up's reconcile leaves 2.2 MiB of the index
 * resident with 10,000 manifests, and a full rebuild the whole file (52 MiB), counted in the
 * process's RSS (and by the OOM killer) for as long as the map lives. Only MAP_SHARED
 * mappings of exactly that file are touched: dropping a shared file page loses nothing (a
 * dirty one is marked dirty on the page cache first), while an anonymous or private page
 * would lose its data.
 */
#define _GNU_SOURCE
#include "trim.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static double drop(const char *want) {
  FILE *maps = fopen("/proc/self/maps", "r");
  if (maps == NULL) return 0;
  char line[PATH_MAX + 256];
  double dropped = 0;
  while (fgets(line, sizeof line, maps) != NULL) {
    unsigned long lo, hi;
    char perms[8];
    int path_at = 0;
    if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &path_at) != 3 || path_at == 0) continue;
    char *path = line + path_at;
    path[strcspn(path, "\n")] = '\0';
    if (perms[3] != 's' || strcmp(path, want) != 0) continue;
    if (madvise((void *)lo, hi - lo, MADV_DONTNEED) == 0) dropped += (double)(hi - lo);
  }
  fclose(maps);
  return dropped;
}

napi_value skiff_js_drop_file_pages(napi_env env, napi_callback_info info) {
  char given[PATH_MAX];
  if (!skiff_string_arg(env, info, given, sizeof given, "dropFilePages(path) takes a file path")) return NULL;
  char real[PATH_MAX];
  napi_value result;
  /* /proc/self/maps names the file by its canonical path. */
  double dropped = realpath(given, real) == NULL ? 0 : drop(real);
  if (napi_create_double(env, dropped, &result) != napi_ok) return NULL;
  return result;
}

/*
 * malloc_trim(0): hands the C heap's free pages back to the kernel.
 *
 * Why: node reads each request body in 64 KiB buffers allocated with malloc. A 256 MiB
 * push frees thousands of them, but glibc returns memory to the kernel only from the top
 * of the heap, so the holes between live allocations stay resident: after four 256 MiB
 * pushes an idle skiff held 90.2 MiB, and 68.7 MiB once malloc_trim(0) had run (measured by
 * calling it from gdb). The event loop calls this after a quiet spell (platform/memory-trim.ts);
 * it takes a few milliseconds and runs on the calling thread.
 *
 * glibc only: elsewhere (musl) it does nothing and answers false.
 */
#define _GNU_SOURCE
#include "trim.h"
#if defined(__GLIBC__)
#include <malloc.h>
#endif

napi_value skiff_js_trim(napi_env env, napi_callback_info info) {
  (void)info;
  int done = 0;
#if defined(__GLIBC__)
  malloc_trim(0);
  done = 1;
#endif
  napi_value result;
  if (napi_get_boolean(env, done, &result) != napi_ok) return NULL;
  return result;
}

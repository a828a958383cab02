/*
 * lowMemory(): V8's LowMemoryNotification, the collection V8 runs itself when it is told
 * memory is short: full collections until nothing more is freed, and the young generation
 * shrunk back to its smallest.
 *
 * Why: start-up grows V8's young generation (to ~9 MiB with a store of 10,000 manifests)
 * and V8 gives it back only when its memory reducer gets round to it, 8 s or more after the
 * last full collection, sometimes not within 15 s (measured). A plain gc() leaves it grown.
 * Called once start-up's work is done and after heavy uploads (platform/memory-trim.ts);
 * it takes ~20 ms on the calling thread, which must be the main thread.
 *
 * The one place skiff reaches V8's C++ API: N-API has no way to say this.
 */
#include <v8.h>
#include "trim.h"

extern "C" napi_value skiff_js_low_memory(napi_env env, napi_callback_info info) {
  (void)info;
  v8::Isolate* isolate = v8::Isolate::TryGetCurrent();
  if (isolate != nullptr) isolate->LowMemoryNotification();
  napi_value result;
  if (napi_get_boolean(env, isolate != nullptr, &result) != napi_ok) return nullptr;
  return result;
}

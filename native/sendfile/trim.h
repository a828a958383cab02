#ifndef SKIFF_TRIM_H
#define SKIFF_TRIM_H
#include <node_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The one string argument of a call, into `out`; false (a TypeError with `usage` thrown) if missing, empty or too long. See args.c. */
int skiff_string_arg(napi_env env, napi_callback_info info, char *out, size_t size, const char *usage);

/* { [count_name]: count, [flag_name]: flag }, the result of sendfile and recv; NULL on failure. See args.c. */
napi_value skiff_count_result(napi_env env, const char *count_name, double count, const char *flag_name, int flag);

/* calloc(1, size), or NULL with an ENOMEM error thrown. See args.c. */
void *skiff_zalloc(napi_env env, size_t size);

/* trim() -> boolean: malloc_trim(0); see trim.c. */
napi_value skiff_js_trim(napi_env env, napi_callback_info info);

/* lowMemory() -> boolean: V8's LowMemoryNotification on the calling isolate; see memory.cc. */
napi_value skiff_js_low_memory(napi_env env, napi_callback_info info);

/* dropFilePages(path) -> bytes advised: MADV_DONTNEED on shared maps of path; see pages.c. */
napi_value skiff_js_drop_file_pages(napi_env env, napi_callback_info info);

/* directOpen(path) -> { fd, memAlign, offsetAlign } | null: O_DIRECT descriptor; see direct.c. */
napi_value skiff_js_direct_open(napi_env env, napi_callback_info info);

/* alignedBuffer(size, align) -> Buffer at an aligned address; see direct.c. */
napi_value skiff_js_aligned_buffer(napi_env env, napi_callback_info info);

/* recv(fd, buffer, want, idleMs) / recvCancel(fd): socket reads on a thread of their own; see recv.c. */
napi_value skiff_js_recv(napi_env env, napi_callback_info info);
napi_value skiff_js_recv_cancel(napi_env env, napi_callback_info info);

/*
 * hashCreate / hashUpdate / hashPeek / hashFree: a running digest updated on the thread pool;
 * see hash.c. Built only where node's OpenSSL headers are (a node built against a shared
 * OpenSSL may ship without them): the rest of the addon must not depend on them.
 */
#if defined(__has_include)
#if __has_include(<openssl/evp.h>)
#define SKIFF_HAVE_HASH 1
#endif
#endif
napi_value skiff_js_hash_create(napi_env env, napi_callback_info info);
napi_value skiff_js_hash_update(napi_env env, napi_callback_info info);
napi_value skiff_js_hash_peek(napi_env env, napi_callback_info info);
napi_value skiff_js_hash_free(napi_env env, napi_callback_info info);

#ifdef __cplusplus
}
#endif

#endif

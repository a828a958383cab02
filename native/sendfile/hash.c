/*
 * A running SHA-256/SHA-512 whose updates run on libuv's thread pool, for large uploads.
 *
 * Why: hashing is most of an upload's CPU (0.7 s per GiB), and on the event loop it is work
 * nothing else can use while it runs. node:crypto hashes only on the calling thread, and the
 * worker-thread hasher must copy every chunk into shared memory first (8% of the event loop
 * in a profile of a push). Here the job hashes the caller's own buffer in place, with the
 * OpenSSL that node itself links (its symbols are exported to addons), while the event loop
 * reads the next chunk. The caller keeps the buffer unchanged until the promise settles and
 * sends one update at a time (the upload path awaits each before taking the next chunk).
 */
#define _GNU_SOURCE
#include "trim.h"
#ifdef SKIFF_HAVE_HASH
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  EVP_MD_CTX *ctx;
  int busy; /* an update is running on the pool */
} hash_state;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref buffer; /* keeps the chunk alive while the pool reads it */
  napi_ref handle; /* and the state, which the handle's finalizer frees */
  hash_state *state;
  const uint8_t *data;
  size_t length;
  int ok;
} update_job;

static void throw_error(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
}

static void finalize_state(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  hash_state *s = data;
  /* Never while an update runs: the job holds a reference to the handle. */
  if (s->ctx) EVP_MD_CTX_free(s->ctx);
  free(s);
}

/* hashCreate('sha256' | 'sha512') -> handle */
napi_value skiff_js_hash_create(napi_env env, napi_callback_info info) {
  char name[16];
  if (!skiff_string_arg(env, info, name, sizeof name, "hashCreate(algorithm) takes 'sha256' or 'sha512'")) return NULL;
  const EVP_MD *md = strcmp(name, "sha256") == 0 ? EVP_sha256() : strcmp(name, "sha512") == 0 ? EVP_sha512() : NULL;
  if (md == NULL) {
    napi_throw_type_error(env, NULL, "hashCreate(algorithm) takes 'sha256' or 'sha512'");
    return NULL;
  }
  hash_state *s = calloc(1, sizeof *s);
  if (s == NULL || (s->ctx = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(s->ctx, md, NULL) != 1) {
    if (s) {
      if (s->ctx) EVP_MD_CTX_free(s->ctx);
      free(s);
    }
    throw_error(env, "ESKIFFHASH", "could not start a hash");
    return NULL;
  }
  napi_value handle;
  if (napi_create_external(env, s, finalize_state, NULL, &handle) != napi_ok) {
    EVP_MD_CTX_free(s->ctx);
    free(s);
    return NULL;
  }
  return handle;
}

static hash_state *state_arg(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "not a hash handle");
    return NULL;
  }
  hash_state *s = data;
  if (s->ctx == NULL) {
    throw_error(env, "ESKIFFHASH", "the hash was freed");
    return NULL;
  }
  return s;
}

/* The state behind `v`, which must not be fed by a running update (throws otherwise). */
static hash_state *idle_state(napi_env env, napi_value v) {
  hash_state *s = state_arg(env, v);
  if (s != NULL && s->busy) {
    throw_error(env, "ESKIFFHASH", "an update is still running on this hash");
    return NULL;
  }
  return s;
}

/* A call on a hash handle: its first `count` arguments into argv, the idle state behind argv[0]. */
static hash_state *handle_call(napi_env env, napi_callback_info info, size_t count, napi_value *argv, const char *usage) {
  size_t argc = count;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < count) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  return idle_state(env, argv[0]);
}

static void update_execute(napi_env env, void *data) {
  (void)env;
  update_job *job = data;
  job->ok = EVP_DigestUpdate(job->state->ctx, job->data, job->length) == 1;
}

static void update_complete(napi_env env, napi_status status, void *data) {
  update_job *job = data;
  job->state->busy = 0;
  napi_delete_reference(env, job->buffer);
  napi_delete_reference(env, job->handle);
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  if (status == napi_ok && job->ok) {
    napi_resolve_deferred(env, job->deferred, undefined);
  } else {
    napi_value msg, error;
    napi_create_string_utf8(env, "hash update failed", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &error);
    napi_reject_deferred(env, job->deferred, error);
  }
  napi_delete_async_work(env, job->work);
  free(job);
}

/* hashUpdate(handle, buffer, async) -> Promise<void> (async) or undefined (on this thread). */
napi_value skiff_js_hash_update(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  hash_state *s = handle_call(env, info, 3, argv, "hashUpdate(handle, buffer, async)");
  if (s == NULL) return NULL;
  void *data = NULL;
  size_t length = 0;
  bool async = false;
  if (napi_get_typedarray_info(env, argv[1], NULL, &length, &data, NULL, NULL) != napi_ok || napi_get_value_bool(env, argv[2], &async) != napi_ok) {
    napi_throw_type_error(env, NULL, "hashUpdate(handle, buffer, async) takes a Uint8Array");
    return NULL;
  }
  if (!async) {
    if (EVP_DigestUpdate(s->ctx, data, length) != 1) throw_error(env, "ESKIFFHASH", "hash update failed");
    return NULL;
  }
  update_job *job = skiff_zalloc(env, sizeof *job);
  if (job == NULL) return NULL;
  job->state = s;
  job->data = data;
  job->length = length;
  napi_value promise, name;
  int ok = napi_create_reference(env, argv[1], 1, &job->buffer) == napi_ok;
  ok = ok && napi_create_reference(env, argv[0], 1, &job->handle) == napi_ok;
  ok = ok && napi_create_string_utf8(env, "skiff.hash", NAPI_AUTO_LENGTH, &name) == napi_ok;
  ok = ok && napi_create_async_work(env, NULL, name, update_execute, update_complete, job, &job->work) == napi_ok;
  ok = ok && napi_create_promise(env, &job->deferred, &promise) == napi_ok;
  if (!ok || napi_queue_async_work(env, job->work) != napi_ok) {
    /* Undo what was made; a promise made here is simply never settled nor returned. */
    if (job->work) napi_delete_async_work(env, job->work);
    if (job->handle) napi_delete_reference(env, job->handle);
    if (job->buffer) napi_delete_reference(env, job->buffer);
    free(job);
    throw_error(env, "ESKIFFHASH", "could not queue the hash update");
    return NULL;
  }
  s->busy = 1;
  return promise;
}

/* hashPeek(handle) -> hex digest of what was fed so far; the hash goes on. */
napi_value skiff_js_hash_peek(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  hash_state *s = handle_call(env, info, 1, argv, "hashPeek(handle)");
  if (s == NULL) return NULL;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_MD_CTX *copy = EVP_MD_CTX_new();
  int ok = copy != NULL && EVP_MD_CTX_copy_ex(copy, s->ctx) == 1 && EVP_DigestFinal_ex(copy, md, &n) == 1;
  if (copy) EVP_MD_CTX_free(copy);
  if (!ok) {
    throw_error(env, "ESKIFFHASH", "could not read the digest");
    return NULL;
  }
  static const char hex[] = "0123456789abcdef";
  char out[2 * EVP_MAX_MD_SIZE + 1];
  for (unsigned int i = 0; i < n; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  napi_value result;
  if (napi_create_string_latin1(env, out, 2 * n, &result) != napi_ok) return NULL;
  return result;
}

/* hashFree(handle): frees the state now (a running update keeps it until it completes). */
napi_value skiff_js_hash_free(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "hashFree(handle)");
    return NULL;
  }
  hash_state *s = data;
  /* Freed by the finalizer instead when a job still uses it. */
  if (!s->busy && s->ctx) {
    EVP_MD_CTX_free(s->ctx);
    s->ctx = NULL;
  }
  return NULL;
}
#endif /* SKIFF_HAVE_HASH */

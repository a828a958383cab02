/*
 * recv(fd, buffer, want, idleMs) -> Promise<{ got, eof }>: reads up to `want` bytes of a
 * socket into `buffer` on a thread of its own, returning once it has them all, the peer
 * ended, or nothing came for `idleMs`. cancel(fd) (shutdown for reading) ends a read early.
 *
 * Why: node:http hands a request body to JavaScript 64 KiB at a time, each piece copied by
 * its parser and passed through a stream, so a 256 MiB push cost the event loop more than
 * uWS spends on the whole upload. For large bodies of known length the HTTP layer stops
 * node reading the socket and fetches the rest here, 4 MiB per call (http/node-socket-body.ts).
 * Why a thread of its own and not libuv's pool: a read waits for the client, and a few
 * slow clients would otherwise hold every pool thread and stall the registry's file I/O.
 */
#define _GNU_SOURCE
#include "trim.h"
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
  napi_threadsafe_function tsfn;
  napi_deferred deferred;
  napi_ref buffer;
  int fd;
  uint8_t *data;
  size_t want;
  size_t got;
  int idle_ms;
  int eof;
  int err;
} recv_job;

static void *recv_thread(void *arg) {
  recv_job *job = arg;
  while (job->got < job->want) {
    ssize_t n = recv(job->fd, job->data + job->got, job->want - job->got, MSG_DONTWAIT);
    if (n > 0) {
      job->got += (size_t)n;
      continue;
    }
    if (n == 0) {
      job->eof = 1;
      break;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      job->err = errno;
      break;
    }
    struct pollfd p = {.fd = job->fd, .events = POLLIN | POLLRDHUP};
    int r = poll(&p, 1, job->idle_ms);
    if (r == 0) {
      job->err = ETIMEDOUT;
      break;
    }
    if (r < 0 && errno != EINTR) {
      job->err = errno;
      break;
    }
  }
  /* The event loop frees the job once called: keep what is needed after the call. */
  napi_threadsafe_function tsfn = job->tsfn;
  /* Refused only while the environment is going away: nothing will settle the job then. */
  if (napi_call_threadsafe_function(tsfn, job, napi_tsfn_blocking) != napi_ok) free(job);
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  return NULL;
}

/* On the event loop once the thread is done: settle the promise and free the job. */
static void recv_done(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb;
  (void)context;
  recv_job *job = data;
  if (env != NULL) {
    napi_delete_reference(env, job->buffer);
    if (job->err != 0 && job->got == 0) {
      napi_value code, msg, error;
      const char *name = job->err == ETIMEDOUT ? "ETIMEDOUT" : job->err == ECONNRESET ? "ECONNRESET" : "ERECV";
      napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
      napi_create_string_utf8(env, strerror(job->err), NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, code, msg, &error);
      napi_reject_deferred(env, job->deferred, error);
    } else {
      /* Bytes read before an error count; the next call reports it. */
      napi_resolve_deferred(env, job->deferred, skiff_count_result(env, "got", (double)job->got, "eof", job->eof));
    }
  }
  free(job);
}

napi_value skiff_js_recv(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t fd = -1, idle_ms = -1;
  double want = 0;
  void *data = NULL;
  size_t length = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_typedarray_info(env, argv[1], NULL, &length, &data, NULL, NULL) != napi_ok || napi_get_value_double(env, argv[2], &want) != napi_ok ||
      napi_get_value_int32(env, argv[3], &idle_ms) != napi_ok || fd < 0 || want < 1 || want > (double)length || idle_ms < 1) {
    napi_throw_type_error(env, NULL, "recv(fd, buffer, want, idleMs): a descriptor, a Uint8Array, 1..length bytes and a positive idle time");
    return NULL;
  }
  recv_job *job = skiff_zalloc(env, sizeof *job);
  if (job == NULL) return NULL;
  job->fd = fd;
  job->data = data;
  job->want = (size_t)want;
  job->idle_ms = idle_ms;
  napi_value promise, name;
  int ok = napi_create_reference(env, argv[1], 1, &job->buffer) == napi_ok;
  ok = ok && napi_create_string_utf8(env, "skiff.recv", NAPI_AUTO_LENGTH, &name) == napi_ok;
  ok = ok && napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, recv_done, &job->tsfn) == napi_ok;
  if (!ok || napi_create_promise(env, &job->deferred, &promise) != napi_ok) {
    if (job->tsfn) napi_release_threadsafe_function(job->tsfn, napi_tsfn_abort);
    if (job->buffer) napi_delete_reference(env, job->buffer);
    free(job);
    napi_throw_error(env, "ERECV", "could not set up the read");
    return NULL;
  }
  pthread_attr_t attr;
  pthread_t thread;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  /* The thread only loops over recv and poll; the size also holds the static TLS glibc puts there. */
  pthread_attr_setstacksize(&attr, 512 * 1024);
  int rc = pthread_create(&thread, &attr, recv_thread, job);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    napi_release_threadsafe_function(job->tsfn, napi_tsfn_abort);
    napi_delete_reference(env, job->buffer);
    free(job);
    napi_throw_error(env, "ERECV", "could not start the reading thread");
    return NULL;
  }
  return promise;
}

/* cancel(fd): shut the socket for reading, so a read on it ends at once (the connection is closing). */
napi_value skiff_js_recv_cancel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "cancel(fd) takes a descriptor");
    return NULL;
  }
  shutdown(fd, SHUT_RD);
  return NULL;
}

/*
 * sendfile(2) for node:http downloads, off the event loop.
 *
 * Why native: Node has no sendfile, and copying each chunk through user space costs a
 * read copy plus a send copy on the event loop (the reference registry, in Go, sends blob
 * files with sendfile). Why the thread pool: the socket is non-blocking, so sendfile never
 * waits for the client, but it does wait for the disk when the file is not cached (an SD
 * card on an edge box), and that must not stall the loop.
 *
 * The socket descriptor passed in is a dup() the caller owns for the whole transfer, so
 * node closing its own descriptor (a client hanging up) can never make a send land on a
 * reused descriptor number.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "trim.h"

#define CHECK(env, call)                                        \
  do {                                                          \
    if ((call) != napi_ok) {                                    \
      napi_throw_error((env), "ESKIFFNAPI", #call " failed");   \
      return NULL;                                              \
    }                                                           \
  } while (0)

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int out_fd;
  int in_fd;
  int64_t offset;
  int64_t count;
  int64_t sent;
  int blocked; /* the socket was full (EAGAIN) before `count` was sent */
  int err;     /* errno of a failed send, 0 if none */
} send_job;

static void send_execute(napi_env env, void *data) {
  (void)env;
  send_job *job = data;
  off_t off = (off_t)job->offset;
  while (job->sent < job->count) {
    size_t want = (size_t)(job->count - job->sent);
    if (want > 0x7ffff000) want = 0x7ffff000;
    ssize_t n = sendfile(job->out_fd, job->in_fd, &off, want);
    if (n > 0) {
      job->sent += n;
      continue;
    }
    if (n == 0) {
      job->err = ENODATA; /* the file ended early: it shrank underneath */
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      job->blocked = 1;
      return;
    }
    job->err = errno;
    return;
  }
}

static napi_value errno_error(napi_env env, int err) {
  napi_value code, msg, error;
  const char *name = err == EPIPE ? "EPIPE" : err == ECONNRESET ? "ECONNRESET" : err == ENODATA ? "ENODATA" : err == EBADF ? "EBADF" : "ESENDFILE";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, err == ENODATA ? "file ended early" : strerror(err), NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_value errnum;
  napi_create_int32(env, -err, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  return error;
}

static void send_complete(napi_env env, napi_status status, void *data) {
  send_job *job = data;
  if (status != napi_ok) {
    napi_value msg, error;
    napi_create_string_utf8(env, "sendfile job cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &error);
    napi_reject_deferred(env, job->deferred, error);
  } else if (job->err != 0 && job->sent == 0) {
    napi_reject_deferred(env, job->deferred, errno_error(env, job->err));
  } else {
    /* Bytes sent before an error still count; the next call reports the error. */
    napi_resolve_deferred(env, job->deferred, skiff_count_result(env, "sent", (double)job->sent, "blocked", job->blocked));
  }
  napi_delete_async_work(env, job->work);
  free(job);
}

static int get_i64(napi_env env, napi_value v, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d < 0 || d > 9007199254740991.0 || d != (double)(int64_t)d) return 0;
  *out = (int64_t)d;
  return 1;
}

/* send(outFd, inFd, offset, count) -> Promise<{ sent, blocked }> */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t out_fd, in_fd, offset, count;
  if (argc < 4 || !get_i64(env, argv[0], &out_fd) || !get_i64(env, argv[1], &in_fd) || !get_i64(env, argv[2], &offset) ||
      !get_i64(env, argv[3], &count) || out_fd > INT32_MAX || in_fd > INT32_MAX) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "send(outFd, inFd, offset, count) takes non-negative integers");
    return NULL;
  }
  send_job *job = skiff_zalloc(env, sizeof(send_job));
  if (job == NULL) return NULL;
  job->out_fd = (int)out_fd;
  job->in_fd = (int)in_fd;
  job->offset = offset;
  job->count = count;
  napi_value promise, name;
  CHECK(env, napi_create_promise(env, &job->deferred, &promise));
  CHECK(env, napi_create_string_utf8(env, "skiff.sendfile", NAPI_AUTO_LENGTH, &name));
  CHECK(env, napi_create_async_work(env, NULL, name, send_execute, send_complete, job, &job->work));
  CHECK(env, napi_queue_async_work(env, job->work));
  return promise;
}

/* The one descriptor argument of dup() and close(); 0 (with a TypeError thrown) if missing. */
static int fd_arg(napi_env env, napi_callback_info info, const char *usage, int32_t *fd) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_int32(env, argv[0], fd) != napi_ok || *fd < 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", usage);
    return 0;
  }
  return 1;
}

/* dup(fd) -> fd: a descriptor of the caller's own, close-on-exec. */
static napi_value js_dup(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!fd_arg(env, info, "dup(fd) takes a descriptor", &fd)) return NULL;
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    napi_throw(env, errno_error(env, errno));
    return NULL;
  }
  napi_value result;
  CHECK(env, napi_create_int32(env, copy, &result));
  return result;
}

/*
 * sendBuffer(fd, bytes): SO_SNDBUF on a socket (the kernel doubles it, and stops growing it
 * by itself); true if the kernel took it. Why downloads set one: see node-sendfile.ts.
 */
static napi_value js_send_buffer(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd, bytes;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int32(env, argv[1], &bytes) != napi_ok || bytes <= 0) {
    napi_throw_type_error(env, NULL, "sendBuffer(fd, bytes) takes a descriptor and a positive size");
    return NULL;
  }
  int ok = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes) == 0;
  napi_value result;
  CHECK(env, napi_get_boolean(env, ok, &result));
  return result;
}

/* close(fd): for descriptors from dup() only. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!fd_arg(env, info, "close(fd) takes a descriptor", &fd)) return NULL;
  close(fd);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
    {"dup", NULL, js_dup, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
    {"sendBuffer", NULL, js_send_buffer, NULL, NULL, NULL, napi_default, NULL},
    {"trim", NULL, skiff_js_trim, NULL, NULL, NULL, napi_default, NULL},
    {"lowMemory", NULL, skiff_js_low_memory, NULL, NULL, NULL, napi_default, NULL},
    {"dropFilePages", NULL, skiff_js_drop_file_pages, NULL, NULL, NULL, napi_default, NULL},
    {"directOpen", NULL, skiff_js_direct_open, NULL, NULL, NULL, napi_default, NULL},
    {"alignedBuffer", NULL, skiff_js_aligned_buffer, NULL, NULL, NULL, napi_default, NULL},
    {"recv", NULL, skiff_js_recv, NULL, NULL, NULL, napi_default, NULL},
    {"recvCancel", NULL, skiff_js_recv_cancel, NULL, NULL, NULL, napi_default, NULL},
#ifdef SKIFF_HAVE_HASH
    {"hashCreate", NULL, skiff_js_hash_create, NULL, NULL, NULL, napi_default, NULL},
    {"hashUpdate", NULL, skiff_js_hash_update, NULL, NULL, NULL, napi_default, NULL},
    {"hashPeek", NULL, skiff_js_hash_peek, NULL, NULL, NULL, napi_default, NULL},
    {"hashFree", NULL, skiff_js_hash_free, NULL, NULL, NULL, napi_default, NULL},
#endif
  };
  CHECK(env, napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

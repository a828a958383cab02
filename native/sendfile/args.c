/*
 * Argument and result helpers shared by the addon's calls (declared in trim.h).
 */
#include "trim.h"
#include <stdlib.h>

int skiff_string_arg(napi_env env, napi_callback_info info, char *out, size_t size, const char *usage) {
  size_t argc = 1;
  napi_value argv[1];
  size_t len = 0;
  /* A string that fills the buffer may have been cut short: refused like an empty one. */
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], out, size, &len) != napi_ok || len == 0 || len >= size - 1) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  return 1;
}

napi_value skiff_count_result(napi_env env, const char *count_name, double count, const char *flag_name, int flag) {
  napi_value result, n, b;
  if (napi_create_object(env, &result) != napi_ok || napi_create_double(env, count, &n) != napi_ok || napi_get_boolean(env, flag != 0, &b) != napi_ok ||
      napi_set_named_property(env, result, count_name, n) != napi_ok || napi_set_named_property(env, result, flag_name, b) != napi_ok) {
    return NULL;
  }
  return result;
}

void *skiff_zalloc(napi_env env, size_t size) {
  void *p = calloc(1, size);
  if (p == NULL) napi_throw_error(env, "ENOMEM", "out of memory");
  return p;
}

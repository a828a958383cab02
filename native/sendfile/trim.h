#ifndef SKIFF_TRIM_H
#define SKIFF_TRIM_H
#include <node_api.h>

/* trim() -> boolean: malloc_trim(0); see trim.c. */
napi_value skiff_js_trim(napi_env env, napi_callback_info info);

#endif

// Shared by the addon's C files: errors thrown to JavaScript the way Node's fs throws them.
#ifndef OTEL_BLACKBOX_NAPI_ERRORS_H
#define OTEL_BLACKBOX_NAPI_ERRORS_H
#include <node_api.h>

// Throws an Error whose `code` is the errno name; returns NULL for the caller to return.
napi_value throw_errno(napi_env env, int err, const char* syscall);

// writer_lock.c
napi_value hold_lock(napi_env env, napi_callback_info info);
napi_value release_lock(napi_env env, napi_callback_info info);
napi_value probe_lock(napi_env env, napi_callback_info info);
napi_value lock_is_held(napi_env env, napi_callback_info info);
#endif

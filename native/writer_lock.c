// Liveness a pid cannot give: a journal's writer holds an exclusive flock(2) on
// <writer dir>/writer.lock for as long as it lives. The kernel releases it when the process
// dies, however it dies, and the lock is the same lock seen from any pid namespace of this
// kernel: a container sharing the volume and the hostname sees a live writer as alive
// where its pid (pid 1 in both) would say otherwise. flock, not fcntl, because its lock
// belongs to the open file description: a probe from the writer's own process conflicts
// with it as any other would, and closing another descriptor of the file does not drop it.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/file.h>
#include <unistd.h>

#include "napi_errors.h"

static int path_arg(napi_env env, napi_callback_info info, char* path, size_t capacity) {
  size_t argc = 1;
  napi_value argv[1];
  size_t length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], path, capacity, &length) != napi_ok || length + 1 >= capacity) {
    napi_throw_type_error(env, "EINVAL", "expected a path");
    return 0;
  }
  return 1;
}

static void close_at_teardown(void* arg) {
  close((int)(intptr_t)arg);
}

// holdLock(path) -> fd: creates the file, takes the lock, and closes the descriptor when
// this thread's environment is torn down, so a worker thread that ends or is terminated
// releases it as its process's death would. Throws (code EWOULDBLOCK when another holds it).
napi_value hold_lock(napi_env env, napi_callback_info info) {
  char path[PATH_MAX];
  if (!path_arg(env, info, path, sizeof path)) return NULL;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return throw_errno(env, errno, "open");
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "flock");
  }
  if (napi_add_env_cleanup_hook(env, close_at_teardown, (void*)(intptr_t)fd) != napi_ok) {
    close(fd);
    napi_throw_error(env, "ENAPI", "napi_add_env_cleanup_hook failed");
    return NULL;
  }
  napi_value result;
  if (napi_create_int32(env, fd, &result) != napi_ok) return NULL;
  return result;
}

// releaseLock(fd): the writer removed its directory; the lock goes with the descriptor.
napi_value release_lock(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "expected a descriptor");
    return NULL;
  }
  napi_remove_env_cleanup_hook(env, close_at_teardown, (void*)(intptr_t)fd);
  close(fd);
  return NULL;
}

// probeLock(path) -> true: a live process holds it; false: none does; null: no such file.
// Takes the lock for an instant when it is free: a writer takes its lock once, before it
// writes its first header, never again, so the probe cannot keep a writer from locking.
napi_value probe_lock(napi_env env, napi_callback_info info) {
  char path[PATH_MAX];
  if (!path_arg(env, info, path, sizeof path)) return NULL;
  napi_value result;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno != ENOENT) return throw_errno(env, errno, "open");
    if (napi_get_null(env, &result) != napi_ok) return NULL;
    return result;
  }
  bool held;
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
    held = false;
    flock(fd, LOCK_UN);
  } else if (errno == EWOULDBLOCK) {
    held = true;
  } else {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "flock");
  }
  close(fd);
  if (napi_get_boolean(env, held, &result) != napi_ok) return NULL;
  return result;
}

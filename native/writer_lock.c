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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "napi_errors.h"
#include "stat_descriptor.h"

// The path argument into `path` (PATH_MAX + 2 bytes: one more than a path may have, to
// tell a path that is too long from one that fits).
static int path_arg(napi_env env, napi_callback_info info, char* path) {
  size_t argc = 1;
  napi_value argv[1];
  size_t full;
  size_t length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], NULL, 0, &full) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "expected a path");
    return 0;
  }
  // Measured whole first: a copy into a short buffer stops at a character boundary, and a
  // path cut short would lock another file. (Room is left for the temporary suffix.)
  if (full >= PATH_MAX - 64) {
    throw_errno(env, ENAMETOOLONG, "open");
    return 0;
  }
  if (napi_get_value_string_utf8(env, argv[0], path, PATH_MAX, &length) != napi_ok || length != full || strlen(path) != length) {
    napi_throw_type_error(env, "EINVAL", "expected a path without NUL characters");
    return 0;
  }
  return 1;
}


// Only a regular file can be the lock: a FIFO or a device planted under the name would
// block or act on open(2), on the application's thread. Opened O_NONBLOCK for that reason.
// `info` receives the file's stat (hold_lock keeps its identity).
static int open_regular(const char* path, int flags, int* fd, struct stat* info) {
  *fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
  if (*fd < 0) return errno;
  int err = 0;
  if (stat_descriptor(*fd, info) != 0) err = errno;
  else if (!S_ISREG(info->st_mode)) err = EINVAL;
  if (err != 0) {
    close(*fd);
    *fd = -1;
  }
  return err;
}

// One held lock. The cleanup hook's argument is this struct, unique per lock: Node aborts
// the process when the same (function, argument) pair is registered twice, which a bare
// descriptor number could be if anyone else closed ours and the number came back.
struct held_lock {
  int fd;
  // The locked file, to tell whether `fd` still names it (lock_is_held).
  dev_t dev;
  ino_t ino;
};

// Whether the lock's descriptor still names the file it locked. False once the application
// closed it (a sweep of descriptors it did not open): the kernel released the lock with it,
// and the number may already name another file of the application's, which must not be
// closed by us.
// A descriptor fstat cannot ask for another reason (ESTALE, EIO on a network filesystem)
// cannot be told: it stays ours, to be closed, not leaked with its lock held.
static bool still_ours(const struct held_lock* lock) {
  if (lock->fd < 0) return false;
  struct stat now;
  if (stat_descriptor(lock->fd, &now) != 0) return errno != EBADF;
  return now.st_dev == lock->dev && now.st_ino == lock->ino;
}

static void close_at_teardown(void* arg) {
  struct held_lock* lock = arg;
  if (still_ours(lock)) close(lock->fd);
  free(lock);
}

// holdLock(path) -> handle: takes the lock on a new file and closes the descriptor when
// this thread's environment is torn down, so a worker thread that ends or is terminated
// releases it as its process's death would. The file is created under a temporary name,
// locked, and only then renamed to `path` (over whatever was there): a judge never finds a
// file of ours under that name that is not locked yet, and a failed attempt leaves none.
// Throws with the errno's name as code. The handle is only for releaseLock: dropping it
// keeps the lock.
napi_value hold_lock(napi_env env, napi_callback_info info) {
  static unsigned long attempts = 0;
  char path[PATH_MAX];
  if (!path_arg(env, info, path)) return NULL;
  char temporary[PATH_MAX + 64];
  snprintf(temporary, sizeof temporary, "%s.%ld.%lu.tmp", path, (long)getpid(), __atomic_add_fetch(&attempts, 1, __ATOMIC_RELAXED));
  int fd;
  struct stat locked;
  int err = open_regular(temporary, O_RDWR | O_CREAT | O_EXCL, &fd, &locked);
  if (err != 0) return throw_errno(env, err, "open");
  // 0600 whatever the umask (src/journal/ownerOnly.ts): one the application set to 0777
  // made a relocked writer's lock mode 0, which no judge of its user could open and ask.
  // A filesystem that refuses keeps what the umask left.
  fchmod(fd, 0600);
  const char* failed = NULL;
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) failed = "flock";
  else if (rename(temporary, path) != 0) failed = "rename";
  if (failed != NULL) {
    err = errno;
    unlink(temporary);
    close(fd);
    return throw_errno(env, err, failed);
  }
  struct held_lock* lock = malloc(sizeof *lock);
  if (lock == NULL) {
    close(fd);
    return throw_errno(env, ENOMEM, "malloc");
  }
  lock->fd = fd;
  lock->dev = locked.st_dev;
  lock->ino = locked.st_ino;
  napi_value handle;
  if (napi_create_external(env, lock, NULL, NULL, &handle) != napi_ok) {
    close(fd);
    free(lock);
    napi_throw_error(env, "ENAPI", "napi_create_external failed");
    return NULL;
  }
  if (napi_add_env_cleanup_hook(env, close_at_teardown, lock) != napi_ok) {
    close(fd);
    free(lock);
    napi_throw_error(env, "ENAPI", "napi_add_env_cleanup_hook failed");
    return NULL;
  }
  return handle;
}

// The lock handle a call was given; `given` false (a TypeError thrown) when it was none.
static struct held_lock* lock_arg(napi_env env, napi_callback_info info, bool* given) {
  size_t argc = 1;
  napi_value argv[1];
  void* data = NULL;
  *given = napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc >= 1 && napi_get_value_external(env, argv[0], &data) == napi_ok;
  if (!*given) napi_throw_type_error(env, "EINVAL", "expected a lock handle");
  return data;
}

// releaseLock(handle): the writer removed its directory; the lock goes with the descriptor.
// A handle already released is left alone.
napi_value release_lock(napi_env env, napi_callback_info info) {
  bool given;
  struct held_lock* lock = lock_arg(env, info, &given);
  if (!given || lock == NULL || lock->fd < 0) return NULL;
  napi_remove_env_cleanup_hook(env, close_at_teardown, lock);
  if (still_ours(lock)) close(lock->fd);
  // Not freed: the handle may be passed again; marked released instead (a few bytes per writer).
  lock->fd = -1;
  return NULL;
}

// lockIsHeld(handle) -> whether the handle's descriptor still names the file it locked.
// False once the application closed it (a sweep of descriptors it did not open): the
// kernel released the lock with it. The number may already name another file of the
// application's, so the handle lets it go without closing it, and teardown will not either.
napi_value lock_is_held(napi_env env, napi_callback_info info) {
  bool given;
  struct held_lock* lock = lock_arg(env, info, &given);
  if (!given) return NULL;
  bool held = false;
  if (lock != NULL && lock->fd >= 0) {
    held = still_ours(lock);
    if (!held) {
      napi_remove_env_cleanup_hook(env, close_at_teardown, lock);
      lock->fd = -1;
    }
  }
  napi_value result;
  if (napi_get_boolean(env, held, &result) != napi_ok) return NULL;
  return result;
}

// probeLock(path) -> true: a live process holds it; false: none does; null: no such file.
// Takes the lock for an instant when it is free: a holder locks its file before the file
// has that name (hold_lock), so the probe can never keep a holder from locking.
napi_value probe_lock(napi_env env, napi_callback_info info) {
  char path[PATH_MAX + 2];
  if (!path_arg(env, info, path)) return NULL;
  napi_value result;
  int fd;
  struct stat file;
  int err = open_regular(path, O_RDONLY, &fd, &file);
  if (err != 0) {
    if (err != ENOENT) return throw_errno(env, err, "open");
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

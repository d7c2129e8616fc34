// Memory-mapped journal segments for otel-blackbox. JavaScript opens the file; this addon
// preallocates its blocks, maps it MAP_SHARED and hands the mapping over as an external
// ArrayBuffer. A store into a shared file mapping is in the page cache the moment it is
// made: it survives SIGKILL, OOM kill, segfault and abort() like write(2), without a
// system call per record.
//
// Never SIGBUS the host: a page of a shared mapping with no block behind it raises SIGBUS
// when the disk is full, so JavaScript maps only after fallocate() succeeded for the whole
// length, maps only filesystems where fallocated blocks are written in place (see
// filesystemType), and never truncates a file while it is mapped.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "crc32.h"
#include "napi_errors.h"
#include "stat_descriptor.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

#define CHECK(call)                                                          \
  do {                                                                       \
    if ((call) != napi_ok) return throw_last(env, #call);                    \
  } while (0)

static napi_value throw_last(napi_env env, const char* what) {
  const napi_extended_error_info* info = NULL;
  napi_get_last_error_info(env, &info);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    napi_throw_error(env, "ENAPI", info && info->error_message ? info->error_message : what);
  }
  return NULL;
}

// Throws an Error whose `code` is the errno name, like Node's fs errors, so the caller can
// tell ENOSPC (disk full) from EOPNOTSUPP (no fallocate here).
napi_value throw_errno(napi_env env, int err, const char* syscall) {
  const char* name = err == ENOSPC       ? "ENOSPC"
                     : err == EOPNOTSUPP ? "EOPNOTSUPP"
                     : err == EINVAL     ? "EINVAL"
                     : err == ENOMEM     ? "ENOMEM"
                     : err == EBADF      ? "EBADF"
                     : err == EIO        ? "EIO"
                     : err == EFBIG      ? "EFBIG"
                     : err == EDQUOT     ? "EDQUOT"
                     : err == EACCES     ? "EACCES"
                     : err == EPERM      ? "EPERM"
                     : err == ENODEV     ? "ENODEV"
                     : err == ENOENT     ? "ENOENT"
                     : err == ENOLCK     ? "ENOLCK"
                     : err == EWOULDBLOCK ? "EWOULDBLOCK"
                     : err == ELOOP      ? "ELOOP"
                     : err == EROFS      ? "EROFS"
                     : err == EMFILE     ? "EMFILE"
                     : err == ENFILE     ? "ENFILE"
                     : err == ENOTDIR    ? "ENOTDIR"
                     : err == ENAMETOOLONG ? "ENAMETOOLONG"
                     : err == EEXIST     ? "EEXIST"
                     : err == EXDEV      ? "EXDEV"
                                         : "EUNKNOWN";
  char message[256];
  snprintf(message, sizeof message, "%s: %s, %s", name, strerror(err), syscall);
  napi_throw_error(env, name, message);
  return NULL;
}

// The first `capacity` arguments into argv (napi fills the ones not passed with
// undefined); throws unless at least `required` were passed.
static napi_value get_args(napi_env env, napi_callback_info info, size_t required, size_t capacity, napi_value* argv) {
  size_t argc = capacity;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < required) {
    napi_throw_type_error(env, "EINVAL", "missing arguments");
    return NULL;
  }
  return argv[0];
}

// filesystemType(fd) -> statfs f_type, for the JavaScript allow-list.
static napi_value filesystem_type(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, 1, argv)) return NULL;
  int32_t fd;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  struct statfs fs;
  if (fstatfs(fd, &fs) != 0) return throw_errno(env, errno, "fstatfs");
  napi_value result;
  CHECK(napi_create_double(env, (double)(uint64_t)fs.f_type, &result));
  return result;
}

// fallocate(fd, bytes): every block the mapping will touch is allocated, or this throws.
static napi_value fallocate_file(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, 2, argv)) return NULL;
  int32_t fd;
  int64_t bytes;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_int64(env, argv[1], &bytes));
  // Not posix_fallocate: where the filesystem lacks fallocate, glibc emulates it by
  // writing a byte per block, which is slow and leaves no error to fall back on.
  if (fallocate(fd, 0, 0, (off_t)bytes) != 0) return throw_errno(env, errno, "fallocate");
  return NULL;
}

// touch(fd): the file's times set to now by the kernel's clock (futimens with NULL), not
// the process's: where a judge reads them as a sign of life (another host, another pid
// namespace without a lock), a writer whose clock was off (behind: judged dead while
// running; ahead: judged alive long after it died) no longer misleads it. On NFS the
// server's clock sets them.
static napi_value touch_file(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, 1, argv)) return NULL;
  int32_t fd;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  if (futimens(fd, NULL) != 0) return throw_errno(env, errno, "futimens");
  return NULL;
}

static void no_finalize(napi_env env, void* data, void* hint) {
  // The mapping is released by unmap(), release() or the end of its thread (below), never
  // by the garbage collector: detaching first means no view can reach freed memory.
  (void)env, (void)data, (void)hint;
}

// Who still uses a mapping: JavaScript until unmap() or release(), and each thread-pool
// job over it while it runs. Whoever lets go last munmaps it. A worker thread that ends
// without closing its journal (terminate(), or a return without shutdown) lets go through
// an environment cleanup hook: before it, its segments stayed mapped until the process
// exited (address space, pages counted in RSS, and the blocks of segment files recovery
// had deleted). The hook may run while a job still uses the mapping; the count makes
// the job's thread unmap it once done, never the hook from under it.
typedef struct mapping {
  char* addr;
  size_t bytes;
  int users; /* guarded by `mappings_lock` */
  napi_env env;
  struct mapping* next;
} mapping;

static pthread_mutex_t mappings_lock = PTHREAD_MUTEX_INITIALIZER;
/* Every thread's mappings, few in each: looked up by address when a job or unmap() starts. */
static mapping* mappings = NULL;

static mapping* find_mapping_locked(const void* addr) {
  for (mapping* m = mappings; m != NULL; m = m->next) {
    if (m->addr == addr) return m;
  }
  return NULL;
}

// Takes one use of the mapping at `addr`: NULL when it is not ours (or was released).
static mapping* use_mapping(const void* addr) {
  pthread_mutex_lock(&mappings_lock);
  mapping* m = find_mapping_locked(addr);
  if (m != NULL) m->users += 1;
  pthread_mutex_unlock(&mappings_lock);
  return m;
}

// Lets go of one use: the last one out takes the mapping off the list and returns true,
// and must then munmap it (`unmap_now`: here; else the caller does, as release() does).
static bool let_go_of_mapping(mapping* m, bool unmap_now, int* error) {
  pthread_mutex_lock(&mappings_lock);
  bool last = --m->users == 0;
  if (last) {
    for (mapping** at = &mappings; *at != NULL; at = &(*at)->next) {
      if (*at == m) {
        *at = m->next;
        break;
      }
    }
  }
  pthread_mutex_unlock(&mappings_lock);
  if (last) {
    if (unmap_now && munmap(m->addr, m->bytes) != 0 && error != NULL) *error = errno;
    free(m);
  }
  return last;
}

// The thread that mapped it ended while JavaScript still held it.
static void mapping_outlived_its_thread(void* arg) {
  let_go_of_mapping(arg, true, NULL);
}

// JavaScript lets go (unmap() or release()): its thread's end no longer needs to.
static void javascript_lets_go(mapping* m) {
  napi_remove_env_cleanup_hook(m->env, mapping_outlived_its_thread, m);
}

// map(fd, bytes) -> ArrayBuffer over a MAP_SHARED read/write mapping of the file.
static napi_value map_file(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, 2, argv)) return NULL;
  int32_t fd;
  int64_t bytes;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_int64(env, argv[1], &bytes));
  void* addr = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) return throw_errno(env, errno, "mmap");
  mapping* m = calloc(1, sizeof *m);
  if (m == NULL) {
    munmap(addr, (size_t)bytes);
    return throw_errno(env, ENOMEM, "calloc");
  }
  napi_value buffer;
  napi_status status = napi_create_external_arraybuffer(env, addr, (size_t)bytes, no_finalize, NULL, &buffer);
  if (status == napi_ok && napi_add_env_cleanup_hook(env, mapping_outlived_its_thread, m) != napi_ok) {
    napi_detach_arraybuffer(env, buffer);
    munmap(addr, (size_t)bytes);
    free(m);
    return throw_last(env, "napi_add_env_cleanup_hook");
  }
  if (status != napi_ok) {
    munmap(addr, (size_t)bytes);
    free(m);
    // Electron and other runtimes with a memory cage refuse external buffers: the caller
    // falls back to write(2).
    napi_throw_error(env, "EXTERNAL_BUFFER_REFUSED",
                     status == napi_no_external_buffers_allowed ? "external ArrayBuffers are not allowed in this runtime"
                                                                : "napi_create_external_arraybuffer failed");
    return NULL;
  }
  m->addr = addr;
  m->bytes = (size_t)bytes;
  m->users = 1; /* JavaScript's */
  m->env = env;
  pthread_mutex_lock(&mappings_lock);
  m->next = mappings;
  mappings = m;
  pthread_mutex_unlock(&mappings_lock);
  return buffer;
}

static napi_value buffer_of(napi_env env, napi_value value, void** addr, size_t* bytes) {
  if (napi_get_arraybuffer_info(env, value, addr, bytes) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "expected the ArrayBuffer returned by map()");
    return NULL;
  }
  return value;
}

// unmap(buffer): detaches the ArrayBuffer (views over it become empty, not dangling), then
// munmaps it.
static napi_value unmap_file(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, 1, argv)) return NULL;
  void* addr;
  size_t bytes;
  if (!buffer_of(env, argv[0], &addr, &bytes)) return NULL;
  if (addr == NULL || bytes == 0) return NULL; /* already detached */
  pthread_mutex_lock(&mappings_lock);
  mapping* m = find_mapping_locked(addr);
  pthread_mutex_unlock(&mappings_lock);
  // Only what map() made: anything else is not ours to unmap.
  if (m == NULL) return throw_errno(env, EINVAL, "unmap of a buffer map() did not return");
  CHECK(napi_detach_arraybuffer(env, argv[0]));
  javascript_lets_go(m);
  // Unmapped here unless a job still uses it (JavaScript waits for its jobs first): then by the job.
  int error = 0;
  let_go_of_mapping(m, true, &error);
  if (error != 0) return throw_errno(env, error, "munmap");
  return NULL;
}

// msync(buffer): MS_SYNC over the whole mapping ('host' durability at close and exit).
static napi_value msync_file(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, 1, argv)) return NULL;
  void* addr;
  size_t bytes;
  if (!buffer_of(env, argv[0], &addr, &bytes)) return NULL;
  if (addr == NULL || bytes == 0) return NULL;
  if (msync(addr, bytes, MS_SYNC) != 0) return throw_errno(env, errno, "msync");
  return NULL;
}

// Two jobs over a page range of a mapping, run on a thread-pool thread:
//
// populate(buffer, from, bytes, busy, callback) faults the pages of [from, from + bytes)
// in for writing. The first store to a fresh page of a shared mapping costs 7-8 µs on our
// 2-vCPU VM (issue #9), about 1 µs per 400-byte record, unless it is faulted ahead.
//
// syncRange(buffer, from, bytes, busy, callback) is msync(MS_SYNC) of that range: the
// 'host' group commit. (fdatasync of the whole file also wrote back the pages faulted
// ahead, still zeros, and left them write-protected: the writer then took a fault on each
// of them again, which made 'host' on the mapped path cost as much as write(2).)
//
// `busy` (an Int32Array) is set to 0 when the thread is done with the mapping, so
// JavaScript can unmap without waiting for the callback; until then it must keep the mapping.
enum range_op { RANGE_POPULATE, RANGE_SYNC, RANGE_RELEASE, RANGE_DROP };

typedef struct {
  napi_async_work work;
  napi_ref callback;
  napi_ref busy_ref;
  int32_t* busy;
  /* The use this job holds of its mapping (NULL: not one of ours, e.g. a test's buffer). */
  mapping* mapping;
  char* addr;
  size_t bytes;
  enum range_op op;
  /* RANGE_RELEASE: the descriptor to cut to `size` bytes once unmapped. */
  int fd;
  int64_t size;
  /* RANGE_RELEASE: fdatasync the file before closing it ('host' durability at rotation). */
  bool sync;
  /* RANGE_RELEASE: the file `fd` named when the release was asked for (see still_the_file). */
  bool identity_known;
  dev_t dev;
  ino_t ino;
  int error;
} range_job;

// Whether the job's descriptor still names the file it named when the release was asked
// for. The job runs on the thread pool, maybe long after (behind other jobs): meanwhile the
// application may have closed the descriptor (a sweep of descriptors it did not open) and
// been given its number for a file of its own, which must not be cut or synced by us.
// One fstat cannot ask for another reason (ESTALE, EIO) cannot be told: taken as the file.
static bool still_the_file(const range_job* job) {
  if (!job->identity_known) return true;
  struct stat now;
  if (stat_descriptor(job->fd, &now) != 0) return errno != EBADF;
  return now.st_dev == job->dev && now.st_ino == job->ino;
}

// Touches each page of [addr, addr + bytes) with an atomic add of zero: one indivisible
// read-modify-write, so it cannot undo a record the main thread stores into the same page
// meanwhile.
static void touch_pages(char* addr, size_t bytes, size_t page) {
  for (size_t offset = 0; offset < bytes; offset += page) {
    __atomic_fetch_add((uint64_t*)(addr + offset), 0, __ATOMIC_RELAXED);
  }
}

// Pages faulted in per madvise call. madvise holds the process's memory-map lock while it
// faults, and V8 needs that lock to map and unmap its own heap: a whole 1 MiB window at
// once (~2 ms of faults on our VM) made the application's thread wait for it in GC.
#define POPULATE_STEP_BYTES (64 * 1024)

static void populate(range_job* job) {
  // madvise faults the pages in (Linux >= 5.14; before, the touch below does it). The touch
  // is needed as well: measured on our VM, after MADV_POPULATE_WRITE alone the main
  // thread's first store to each page still cost 6-7 µs without a guest page fault (the
  // hypervisor maps a page for a user address only when that address is used); after a
  // store through the same address from this thread it costs 0.03 µs.
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  for (size_t done = 0; done < job->bytes; done += POPULATE_STEP_BYTES) {
    size_t step = job->bytes - done < POPULATE_STEP_BYTES ? job->bytes - done : POPULATE_STEP_BYTES;
    if (madvise(job->addr + done, step, MADV_POPULATE_WRITE) != 0 && errno != EINVAL) {
      job->error = errno;
      return;
    }
    touch_pages(job->addr + done, step, page);
  }
}

static void range_execute(napi_env env, void* data) {
  (void)env;
  range_job* job = data;
  if (job->op == RANGE_SYNC) {
    if (job->bytes > 0 && msync(job->addr, job->bytes, MS_SYNC) != 0) job->error = errno;
  } else if (job->op == RANGE_DROP) {
    // Of a shared file mapping, MADV_DONTNEED only unmaps the pages: their data (dirty or
    // not) stays in the page cache, as a write(2)'s would, and a later access maps it again.
    if (job->bytes > 0 && madvise(job->addr, job->bytes, MADV_DONTNEED) != 0) job->error = errno;
  } else if (job->op == RANGE_RELEASE) {
    // Only now that nothing maps it may the file shrink: the zeros past the records go
    // back to the disk. Each step is tried; the first failure is reported. A job still
    // using the mapping (JavaScript waits for them, so never expected) unmaps it when it
    // ends, and the file keeps its zeros: a reader takes them for the end of the records.
    bool unmapped = job->mapping == NULL || let_go_of_mapping(job->mapping, false, NULL);
    job->mapping = NULL;
    if (!unmapped) {
      // Left to the job that still uses it.
    } else if (munmap(job->addr, job->bytes) != 0) job->error = errno;
    else if (!still_the_file(job)) job->error = EBADF;
    else if (ftruncate(job->fd, (off_t)job->size) != 0) job->error = errno;
    // The pages stay dirty in the page cache after munmap: this writes them and the new size.
    if (job->sync && job->error != EBADF && fdatasync(job->fd) != 0 && job->error == 0) job->error = errno;
    // Not closed here: JavaScript opened the descriptor with fs and closes it with fs. In a
    // worker thread Node closes, at the worker's end, every descriptor it opened with fs and
    // did not close with fs: one closed here stayed on that list, and the worker's end
    // closed whatever file of the process had been given its number since.
  } else {
    populate(job);
  }
  // Let go before saying so: JavaScript, seeing `busy` 0, may unmap and cut the file at
  // once, and then it is the last user, which unmaps before the cut.
  if (job->mapping != NULL) let_go_of_mapping(job->mapping, true, NULL);
  job->mapping = NULL;
  if (job->busy != NULL) __atomic_store_n(job->busy, 0, __ATOMIC_RELEASE);
}

static void range_complete(napi_env env, napi_status status, void* data) {
  range_job* job = data;
  napi_value callback, global, argv[1];
  if (status == napi_cancelled && job->busy != NULL) __atomic_store_n(job->busy, 0, __ATOMIC_RELEASE);
  // A cancelled job never ran: the use it held is let go here.
  if (job->mapping != NULL) let_go_of_mapping(job->mapping, true, NULL);
  if (napi_get_reference_value(env, job->callback, &callback) == napi_ok && napi_get_global(env, &global) == napi_ok) {
    if (job->error != 0 || status != napi_ok) {
      napi_value message;
      napi_create_string_utf8(env, job->error ? strerror(job->error) : "cancelled", NAPI_AUTO_LENGTH, &message);
      napi_create_error(env, NULL, message, &argv[0]);
    } else {
      napi_get_null(env, &argv[0]);
    }
    napi_call_function(env, global, callback, 1, argv, NULL);
  }
  napi_delete_reference(env, job->callback);
  if (job->busy_ref != NULL) napi_delete_reference(env, job->busy_ref);
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value queue_range_job(napi_env env, napi_callback_info info, enum range_op op) {
  napi_value argv[5];
  if (!get_args(env, info, 5, 5, argv)) return NULL;
  void* addr;
  size_t bytes;
  int64_t from, length;
  if (!buffer_of(env, argv[0], &addr, &bytes)) return NULL;
  CHECK(napi_get_value_int64(env, argv[1], &from));
  CHECK(napi_get_value_int64(env, argv[2], &length));
  napi_typedarray_type type;
  size_t count;
  void* busy;
  CHECK(napi_get_typedarray_info(env, argv[3], &type, &count, &busy, NULL, NULL));
  if (type != napi_int32_array || count < 1) {
    napi_throw_type_error(env, "EINVAL", "busy must be an Int32Array");
    return NULL;
  }
  long page = sysconf(_SC_PAGESIZE);
  size_t start = ((size_t)(from < 0 ? 0 : from) / (size_t)page) * (size_t)page;
  size_t end = (size_t)(from < 0 ? 0 : from) + (size_t)(length < 0 ? 0 : length);
  if (start > bytes) start = bytes;
  if (end > bytes) end = bytes;
  range_job* job = calloc(1, sizeof *job);
  if (job == NULL) return throw_errno(env, ENOMEM, "calloc");
  job->addr = (char*)addr + start;
  job->bytes = end > start ? end - start : 0;
  job->busy = busy;
  job->op = op;
  napi_value name;
  CHECK(napi_create_reference(env, argv[3], 1, &job->busy_ref));
  CHECK(napi_create_reference(env, argv[4], 1, &job->callback));
  CHECK(napi_create_string_utf8(env, op == RANGE_SYNC ? "otel-blackbox:sync" : op == RANGE_DROP ? "otel-blackbox:drop" : "otel-blackbox:populate", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_async_work(env, NULL, name, range_execute, range_complete, job, &job->work));
  __atomic_store_n(job->busy, 1, __ATOMIC_RELEASE);
  job->mapping = use_mapping(addr);
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    if (job->mapping != NULL) let_go_of_mapping(job->mapping, true, NULL);
    job->mapping = NULL;
    __atomic_store_n(job->busy, 0, __ATOMIC_RELEASE);
    return throw_last(env, "napi_queue_async_work");
  }
  return NULL;
}

static napi_value populate_file(napi_env env, napi_callback_info info) {
  return queue_range_job(env, info, RANGE_POPULATE);
}

static napi_value sync_range(napi_env env, napi_callback_info info) {
  return queue_range_job(env, info, RANGE_SYNC);
}

// drop(buffer, from, bytes, busy, callback): lets go of the written pages of [from, from +
// bytes) from the mapping, on the thread pool. A mapped page counts in the process's RSS
// until unmapped: without this, up to a whole segment (8 MiB) of pages the writer had
// passed. `from` and `bytes` should be whole pages.
static napi_value drop_range(napi_env env, napi_callback_info info) {
  return queue_range_job(env, info, RANGE_DROP);
}

// release(buffer, fd, size, callback, sync): detaches the ArrayBuffer (views over it become
// empty, not dangling), then on the thread pool munmaps it, cuts the file to `size` bytes,
// and with `sync` fdatasyncs it (a 'host' journal's rotation: an msync of the whole segment
// on the application's thread stalled it for milliseconds). The caller closes the
// descriptor once `callback` is called (see range_execute).
// Unmapping 8 MiB of written pages and freeing the preallocated tail took ~2 ms on the
// application's thread at every rotation (bench/processor-overhead.mjs). The caller must
// not start it while another job uses the mapping or the descriptor.
static napi_value release_file(napi_env env, napi_callback_info info) {
  // `sync` is optional: older callers pass four arguments.
  napi_value argv[5];
  if (!get_args(env, info, 4, 5, argv)) return NULL;
  void* addr;
  size_t bytes;
  int32_t fd;
  int64_t size;
  bool sync = false;
  if (!buffer_of(env, argv[0], &addr, &bytes)) return NULL;
  CHECK(napi_get_value_int32(env, argv[1], &fd));
  CHECK(napi_get_value_int64(env, argv[2], &size));
  napi_valuetype sync_type;
  CHECK(napi_typeof(env, argv[4], &sync_type));
  if (sync_type == napi_boolean) CHECK(napi_get_value_bool(env, argv[4], &sync));
  if (addr == NULL || bytes == 0) {
    napi_throw_error(env, "EINVAL", "the mapping was released already");
    return NULL;
  }
  pthread_mutex_lock(&mappings_lock);
  mapping* m = find_mapping_locked(addr);
  pthread_mutex_unlock(&mappings_lock);
  if (m == NULL) return throw_errno(env, EINVAL, "release of a buffer map() did not return");
  range_job* job = calloc(1, sizeof *job);
  if (job == NULL) return throw_errno(env, ENOMEM, "calloc");
  job->addr = addr;
  job->bytes = bytes;
  job->op = RANGE_RELEASE;
  job->fd = fd;
  job->size = size;
  job->sync = sync;
  struct stat file;
  if (stat_descriptor(fd, &file) == 0) {
    job->identity_known = true;
    job->dev = file.st_dev;
    job->ino = file.st_ino;
  }
  napi_value name;
  if (napi_create_reference(env, argv[3], 1, &job->callback) != napi_ok ||
      napi_create_string_utf8(env, "otel-blackbox:release", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, range_execute, range_complete, job, &job->work) != napi_ok) {
    free(job);
    return throw_last(env, "napi_create_async_work");
  }
  CHECK(napi_detach_arraybuffer(env, argv[0]));
  // JavaScript's use of the mapping passes to the job, which unmaps it.
  job->mapping = m;
  javascript_lets_go(m);
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    // Not queued: unmapped here, the descriptor left to the caller.
    let_go_of_mapping(m, true, NULL);
    napi_delete_reference(env, job->callback);
    napi_delete_async_work(env, job->work);
    free(job);
    return throw_last(env, "napi_queue_async_work");
  }
  return NULL;
}

// encodeFrame(buffer, offset, type, json) -> the frame's length, or -1 when it does not fit
// in the mapping: | u32 LE payload length | u32 LE crc32(type + payload) | u8 type | payload |
// (src/journal/frame.ts writes the same bytes in JavaScript). One call instead of
// Buffer.write, a subarray and zlib.crc32, each a call out of JavaScript with its checks:
// 0.3-0.4 µs a record on our VM. The length word is stored first as one no frame can have
// and last as the real one, so a crash between any two stores leaves a torn tail, never
// zeros followed by data; the fences keep the compiler from reordering those stores.
#define FRAME_HEADER_BYTES 9
#define UNFINISHED_LENGTH 0xffffffffu

static void store_u32le(uint8_t* at, uint32_t value) {
  at[0] = (uint8_t)value;
  at[1] = (uint8_t)(value >> 8);
  at[2] = (uint8_t)(value >> 16);
  at[3] = (uint8_t)(value >> 24);
}

static napi_value encode_frame(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, 4, argv)) return NULL;
  void* addr;
  size_t bytes;
  int64_t offset;
  uint32_t type;
  if (!buffer_of(env, argv[0], &addr, &bytes)) return NULL;
  CHECK(napi_get_value_int64(env, argv[1], &offset));
  CHECK(napi_get_value_uint32(env, argv[2], &type));
  napi_value result;
  if (addr == NULL || offset < 0 || (uint64_t)offset + FRAME_HEADER_BYTES >= bytes) {
    CHECK(napi_create_int32(env, -1, &result));
    return result;
  }
  // The payload and the NUL napi writes after it (into the next frame's zeros) must fit.
  size_t room = bytes - (size_t)offset - FRAME_HEADER_BYTES;
  size_t units;
  CHECK(napi_get_value_string_utf16(env, argv[3], NULL, 0, &units));
  // UTF-8 needs at most 3 bytes per UTF-16 unit: below that bound, measure.
  if (room <= units * 3) {
    size_t needed;
    CHECK(napi_get_value_string_utf8(env, argv[3], NULL, 0, &needed));
    if (needed >= room) {
      CHECK(napi_create_int32(env, -1, &result));
      return result;
    }
  }
  uint8_t* frame = (uint8_t*)addr + offset;
  store_u32le(frame, UNFINISHED_LENGTH);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  size_t length;
  CHECK(napi_get_value_string_utf8(env, argv[3], (char*)frame + FRAME_HEADER_BYTES, room, &length));
  frame[8] = (uint8_t)type;
  store_u32le(frame + 4, crc32_of(frame + 8, length + 1));
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  store_u32le(frame, (uint32_t)length);
  CHECK(napi_create_int32(env, (int32_t)(FRAME_HEADER_BYTES + length), &result));
  return result;
}

NAPI_MODULE_INIT() {
  crc32_init();
  napi_property_descriptor functions[] = {
      {"filesystemType", NULL, filesystem_type, NULL, NULL, NULL, napi_default, NULL},
      {"fallocate", NULL, fallocate_file, NULL, NULL, NULL, napi_default, NULL},
      {"touch", NULL, touch_file, NULL, NULL, NULL, napi_default, NULL},
      {"map", NULL, map_file, NULL, NULL, NULL, napi_default, NULL},
      {"unmap", NULL, unmap_file, NULL, NULL, NULL, napi_default, NULL},
      {"msync", NULL, msync_file, NULL, NULL, NULL, napi_default, NULL},
      {"populate", NULL, populate_file, NULL, NULL, NULL, napi_default, NULL},
      {"syncRange", NULL, sync_range, NULL, NULL, NULL, napi_default, NULL},
      {"drop", NULL, drop_range, NULL, NULL, NULL, napi_default, NULL},
      {"release", NULL, release_file, NULL, NULL, NULL, napi_default, NULL},
      {"encodeFrame", NULL, encode_frame, NULL, NULL, NULL, napi_default, NULL},
      {"holdLock", NULL, hold_lock, NULL, NULL, NULL, napi_default, NULL},
      {"releaseLock", NULL, release_lock, NULL, NULL, NULL, napi_default, NULL},
      {"probeLock", NULL, probe_lock, NULL, NULL, NULL, napi_default, NULL},
      {"lockIsHeld", NULL, lock_is_held, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) != napi_ok) return NULL;
  // What JavaScript may ask of this build: a stale build/Release addon lacks the newer ones.
  napi_value yes;
  if (napi_get_boolean(env, true, &yes) != napi_ok || napi_set_named_property(env, exports, "releaseSyncs", yes) != napi_ok ||
      napi_set_named_property(env, exports, "releaseLeavesDescriptor", yes) != napi_ok) {
    return NULL;
  }
  return exports;
}

// One thread per process, at the lowest scheduling priority (SCHED_IDLE), for work that
// only saves the application's thread time: faulting a journal segment's pages in ahead of
// the writer, and unmapping the pages behind it (segment_io.c).
//
// Not libuv's thread pool: waking one of its threads for such a job preempted the
// application's thread whenever no other core was free (a woken thread that slept long
// runs first), and the application then waited for the whole job, about 2 ms of page
// faults a window, inside a span's onStart or onEnd. With the process pinned to one core,
// queueing a window's job took 221 µs at the median and 1.4 ms at p90; on two cores with
// other processes busy (load 3.5), 55 µs at the median, 2.4 ms at p90, up to 9 ms. A
// SCHED_IDLE thread never preempts a normal one when it wakes, and runs only on a core
// with nothing else to do: when there is none, the writer faults its pages itself, a few
// microseconds each, as it would without this thread.
#define _GNU_SOURCE
#include "glibc_compat.h"
#include "idle_worker.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static idle_job* head = NULL;
static idle_job* tail = NULL;
/* 0: not started yet; 1: running; -1: could not be started (jobs are refused). */
static int state = 0;
/* pthread_atfork is asked once per process (not pthread_once: see glibc_compat.h). */
static bool forks_watched = false;

static void lowest_priority(void) {
  struct sched_param param = {0};
  // Lowering one's own priority needs no privilege; where SCHED_IDLE is refused (a
  // seccomp profile), the lowest nice value does most of it.
  if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &param) != 0) {
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
  }
}

static void* run_jobs(void* unused) {
  (void)unused;
  // Named for operators (top -H, /proc/<pid>/task/*/comm), at most 15 characters.
  prctl(PR_SET_NAME, "otel-bb-ahead", 0, 0, 0);
  lowest_priority();
  for (;;) {
    pthread_mutex_lock(&lock);
    while (head == NULL) pthread_cond_wait(&wake, &lock);
    idle_job* job = head;
    head = job->next;
    if (head == NULL) tail = NULL;
    pthread_mutex_unlock(&lock);
    job->run(job);
  }
  return NULL;
}

// A child forked without exec has no worker thread, and may have been forked while it held
// the lock: it starts afresh (its queued jobs, the parent's, are not its to run).
static void forget_in_child(void) {
  pthread_mutex_init(&lock, NULL);
  pthread_cond_init(&wake, NULL);
  head = tail = NULL;
  state = 0;
}

static int start_locked(void) {
  if (!forks_watched) forks_watched = pthread_atfork(NULL, NULL, forget_in_child) == 0;
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return -1;
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  // Signals are the application's threads' to take: the new thread starts with every one
  // blocked (it inherits the mask in force here), and this thread's mask is put back.
  // (sigprocmask is this thread's mask in glibc, as pthread_sigmask is: see glibc_compat.h.)
  sigset_t all, previous;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &previous);
  pthread_t thread;
  int started = pthread_create(&thread, &attr, run_jobs, NULL);
  sigprocmask(SIG_SETMASK, &previous, NULL);
  pthread_attr_destroy(&attr);
  return started == 0 ? 1 : -1;
}

bool idle_worker_post(idle_job* job) {
  job->next = NULL;
  // Tried, never waited for: the worker holds the queue a moment to take a job, and at idle
  // priority it may be descheduled there for as long as the cores stay busy.
  if (pthread_mutex_trylock(&lock) != 0) return false;
  if (state == 0) state = start_locked();
  bool queued = state == 1;
  if (queued) {
    if (tail != NULL) tail->next = job;
    else head = job;
    tail = job;
    pthread_cond_signal(&wake);
  }
  pthread_mutex_unlock(&lock);
  return queued;
}

// A thread of our own, one per process, for work that only saves the application's thread
// time (see idle_worker.c).
#ifndef OTEL_BLACKBOX_IDLE_WORKER_H
#define OTEL_BLACKBOX_IDLE_WORKER_H

#include <stdbool.h>

typedef struct idle_job {
  /* Runs on the idle worker's thread; owns the job from then on (frees it). */
  void (*run)(struct idle_job* job);
  struct idle_job* next;
} idle_job;

// Queues `job` for the idle worker, starting it on first use. False when no thread could
// be started, or the worker held the queue just then (the caller never waits for it): the
// job was not queued, and stays the caller's.
bool idle_worker_post(idle_job* job);

#endif

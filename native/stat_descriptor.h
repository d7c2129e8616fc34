// fstat(2) as the system call, not glibc's fstat: linked on glibc >= 2.33 that asks for
// GLIBC_2.33, and the prebuilt binary must load where the official Node binaries run
// (2.28). On Linux's 64-bit ABIs glibc's struct stat is the kernel's; elsewhere (built from
// source on a 32-bit host) glibc's own call, which that host's glibc has.
#ifndef OTEL_BLACKBOX_STAT_DESCRIPTOR_H
#define OTEL_BLACKBOX_STAT_DESCRIPTOR_H

#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline int stat_descriptor(int fd, struct stat* info) {
#if defined(__LP64__)
  return (int)syscall(SYS_fstat, fd, info);
#else
  return fstat(fd, info);
#endif
}

#endif

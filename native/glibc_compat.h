// The prebuilt addon must load wherever the official Node binaries run: glibc 2.28 (see
// test/package/prebuiltGlibc.test.ts). Linked on glibc >= 2.34, the pthread functions that
// moved from libpthread into libc there ask for GLIBC_2.34 by default; their first versions
// are still defined by every newer libc (and by 2.28's libpthread, which Node loads), so
// on x86-64 they are asked for by those. Elsewhere the addon is built where it runs.
// Included before any header that declares them.
#ifndef OTEL_BLACKBOX_GLIBC_COMPAT_H
#define OTEL_BLACKBOX_GLIBC_COMPAT_H

#if defined(__x86_64__) && defined(__linux__) && !defined(__ANDROID__)
#include <features.h>
#if defined(__GLIBC__)
__asm__(".symver pthread_create,pthread_create@GLIBC_2.2.5");
__asm__(".symver pthread_mutex_trylock,pthread_mutex_trylock@GLIBC_2.2.5");
#endif
#endif

#endif

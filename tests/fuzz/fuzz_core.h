/* fuzz_core.h - the fuzz entry shared by libFuzzer, AFL++ and make check. */
#ifndef COHORT_FUZZ_CORE_H
#define COHORT_FUZZ_CORE_H

#include <stddef.h>
#include <stdint.h>

int cohort_fuzz_one(const uint8_t *data, size_t size);
size_t cohort_fuzz_capture(int mode,
                           void (*emit)(const uint8_t *, size_t, void *),
                           void *arg);
/* The same with parity blocks of 4 (mode 4) and a target that loses some
 * datagrams and NACKs them: the input holds the peers' PARITY answers. */
size_t cohort_fuzz_capture_parity(void (*emit)(const uint8_t *, size_t,
                                                void *),
                                  void *arg);

#endif

/* placeholder: being written by the IO-edge work */
#include "cohort.h"
COHORT_API const char *cohort_strerror(int err) { (void)err; return "?"; }

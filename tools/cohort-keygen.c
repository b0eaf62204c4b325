/*
 * cohort-keygen - write a new random group key file (cohort-keygen(1)).
 *
 * There is deliberately no --force: replacing a key in place would cut the
 * group in two. A rollover uses a second file and a second key id
 * (docs/security.md).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cohort.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cohort-keygen [--] FILE\n"
            "       cohort-keygen --help | --version\n"
            "\n"
            "Write a new random %d-byte group key to FILE (created with mode\n"
            "0600; an existing FILE is never overwritten). Give a copy of it\n"
            "to every member of the group (cohort_config.key_file).\n",
            COHORT_KEY_BYTES);
}

static int report(const char *path, int rc)
{
    switch (rc) {
    case COHORT_ERR_NOCRYPTO:
        fprintf(stderr,
                "cohort-keygen: this cohort was built without libsodium; "
                "keys are not available\n");
        break;
    case COHORT_ERR_SYSTEM:
        if (errno == EEXIST)
            fprintf(stderr,
                    "cohort-keygen: %s already exists; refusing to "
                    "overwrite it (remove it first, or write the new key "
                    "to another file)\n",
                    path);
        else
            fprintf(stderr, "cohort-keygen: %s: %s\n", path,
                    strerror(errno));
        break;
    default:
        fprintf(stderr, "cohort-keygen: %s: cannot write key (error %d)\n",
                path, rc);
        break;
    }
    return EXIT_FAIL;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int only_files = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_files && strcmp(a, "--") == 0) {
            only_files = 1;
        } else if (!only_files &&
                   (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            usage(stdout);
            return EXIT_OK;
        } else if (!only_files &&
                   (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0)) {
            printf("cohort-keygen %s\n", PACKAGE_VERSION);
            return EXIT_OK;
        } else if (!only_files &&
                   (strcmp(a, "--force") == 0 || strcmp(a, "-f") == 0)) {
            fprintf(stderr, "cohort-keygen: there is no --force: a key is "
                            "never overwritten; remove the old file "
                            "yourself if you mean to replace it\n");
            return EXIT_USAGE;
        } else if (!only_files && a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "cohort-keygen: unknown option %s\n", a);
            usage(stderr);
            return EXIT_USAGE;
        } else if (path != NULL) {
            fprintf(stderr, "cohort-keygen: one FILE only\n");
            usage(stderr);
            return EXIT_USAGE;
        } else {
            path = a;
        }
    }
    if (path == NULL || path[0] == '\0') {
        usage(stderr);
        return EXIT_USAGE;
    }
    int rc = cohort_keygen(path);
    if (rc != COHORT_OK)
        return report(path, rc);
    fprintf(stderr, "cohort-keygen: wrote a new key to %s (mode 0600)\n",
            path);
    return EXIT_OK;
}

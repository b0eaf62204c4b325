/*
 * cohort-keygen - write a new random group key file (cohort-keygen(1)).
 *
 * There is deliberately no --force: replacing a key in place would cut the
 * group in two. A rollover uses a second file and a second key id
 * (docs/security.md).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cohort.h"
#include "common.h"

enum keygen_opt { OPT_FORCE = TOOL_OPT__END };

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

static const struct option long_opts[] = {
    { "help", no_argument, NULL, TOOL_OPT_HELP },
    { "version", no_argument, NULL, TOOL_OPT_VERSION },
    { "force", no_argument, NULL, OPT_FORCE },
    { NULL, 0, NULL, 0 },
};

static int report(const char *path, int rc)
{
    if (rc == COHORT_ERR_NOCRYPTO)
        tool_err("this cohort was built without libsodium; keys are not "
                 "available");
    else if (rc == COHORT_ERR_SYSTEM && errno == EEXIST)
        tool_err("%s already exists; refusing to overwrite it (remove it "
                 "first, or write the new key to another file)", path);
    else if (rc == COHORT_ERR_SYSTEM)
        tool_err("%s: %s", path, strerror(errno));
    else
        tool_err("%s: cannot write key: %s", path, cohort_strerror(rc));
    return TOOL_EXIT_FAIL;
}

/* The options, then exactly one FILE. Returns -1 to go on (*path set),
 * else an exit status. */
static int parse_args(int argc, char **argv, const char **path)
{
    int opt;
    struct tool_net unused;
    tool_net_init(&unused, NULL);
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":hVf", long_opts, NULL)) != -1) {
        if (opt == 'f' || opt == OPT_FORCE) {
            tool_err("there is no --force: a key is never overwritten; "
                     "remove the old file yourself if you mean to replace "
                     "it");
            return TOOL_EXIT_USAGE;
        }
        /* Only help, version and unknown options reach the shared step:
         * the table has no network options. */
        int r = tool_common_option(&unused, opt, optarg, argv, usage);
        if (r != TOOL_OPT_NEXT)
            return r == TOOL_OPT_OWN ? TOOL_EXIT_USAGE : r;
    }
    if (optind >= argc || argv[optind][0] == '\0') {
        tool_err("needs the FILE to write the key to (try --help)");
        return TOOL_EXIT_USAGE;
    }
    if (optind + 1 < argc) {
        tool_err("unexpected argument '%s': one FILE only (try --help)",
                 argv[optind + 1]);
        return TOOL_EXIT_USAGE;
    }
    *path = argv[optind];
    return -1;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int rc;
    tool_set_progname(argv[0]);
    rc = parse_args(argc, argv, &path);
    if (rc >= 0)
        return rc;
    rc = cohort_keygen(path);
    if (rc != COHORT_OK)
        return report(path, rc);
    tool_err("wrote a new key to %s (mode 0600)", path);
    return TOOL_EXIT_OK;
}

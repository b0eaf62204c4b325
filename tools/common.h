/*
 * common.h - what the command-line tools share: the network and security
 * options every tool accepts, opening a member from them, the clock, number
 * parsing and running helper processes.
 *
 * The tools are ordinary library users: they include only the public
 * header, never anything under src/.
 */
#ifndef COHORT_TOOLS_COMMON_H
#define COHORT_TOOLS_COMMON_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

#include "cohort.h"

/* Exit statuses shared by the tools (77 is what automake reads as SKIP). */
enum tool_exit {
    TOOL_EXIT_OK = 0,
    TOOL_EXIT_FAIL = 1,
    TOOL_EXIT_USAGE = 2,
    TOOL_EXIT_TIMEOUT = 3,
    TOOL_EXIT_NOTSUP = 77,
};

/* getopt_long codes of the shared options; tools number theirs after
 * TOOL_OPT__END. */
enum tool_opt {
    TOOL_OPT_GROUP = 256,
    TOOL_OPT_NAME,
    TOOL_OPT_INTERFACE,
    TOOL_OPT_ADDRESS,
    TOOL_OPT_PORT,
    TOOL_OPT_IPV6,
    TOOL_OPT_MODE,
    TOOL_OPT_KEY,
    TOOL_OPT_SECURITY,
    TOOL_OPT_CIPHER,
    TOOL_OPT_DATAGRAM,
    TOOL_OPT_FAULTS,
    TOOL_OPT_HELP,
    TOOL_OPT_VERSION,
    TOOL_OPT__END,
};

/* The shared entries of a tool's struct option table. */
#define TOOL_NET_LONGOPTS                                              \
    { "group", required_argument, NULL, TOOL_OPT_GROUP },              \
    { "name", required_argument, NULL, TOOL_OPT_NAME },                \
    { "interface", required_argument, NULL, TOOL_OPT_INTERFACE },      \
    { "address", required_argument, NULL, TOOL_OPT_ADDRESS },          \
    { "port", required_argument, NULL, TOOL_OPT_PORT },                \
    { "ipv6", no_argument, NULL, TOOL_OPT_IPV6 },                      \
    { "mode", required_argument, NULL, TOOL_OPT_MODE },                \
    { "key", required_argument, NULL, TOOL_OPT_KEY },                  \
    { "security", required_argument, NULL, TOOL_OPT_SECURITY },        \
    { "cipher", required_argument, NULL, TOOL_OPT_CIPHER },            \
    { "datagram", required_argument, NULL, TOOL_OPT_DATAGRAM },        \
    { "faults", required_argument, NULL, TOOL_OPT_FAULTS },            \
    { "help", no_argument, NULL, TOOL_OPT_HELP },                      \
    { "version", no_argument, NULL, TOOL_OPT_VERSION }

#define TOOL_DEFAULT_INTERFACE "lo"

/* The shared options, as parsed. Strings point into argv. */
struct tool_net {
    const char *group;
    const char *name;
    const char *interface;
    const char *address;
    uint16_t port;               /* 0: library default */
    int ipv6;
    cohort_mode_t mode;
    int mode_set;                /* --mode was given */
    int ordered_ok;              /* set before parsing: the tool takes
                                    --mode total and safe (the harness);
                                    others refuse them until they can
                                    measure them */
    const char *key_file;
    cohort_security_t security;
    cohort_cipher_t cipher;      /* --cipher; default the library's */
    size_t max_datagram;         /* 0: library default */
    const char *faults;          /* NULL: COHORT_FAULTS */
};

/* What every tool's main does: set the program name, parse(opts, argc,
 * argv) (returns -1 to go on, else the exit status to return), catch the
 * stop signals, then return run(opts). */
int tool_main(int argc, char **argv, void *opts,
              int (*parse)(void *opts, int argc, char **argv),
              int (*run)(void *opts));

/* Set the name used in messages ("cohort-chat: ..."). */
void tool_set_progname(const char *argv0);
const char *tool_progname(void);

/* printf-style message on stderr, prefixed with the program name. */
void tool_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Report a failed library call: what, the error name and, for
 * cohort_open(), the library's own explanation. */
void tool_err_cohort(const char *what, int err);

/* The --help lines of the shared options, --group to --faults, for a tool
 * whose group defaults to default_group; mode_help is the text after
 * "--mode unreliable|fifo" (NULL: "delivery mode (default: fifo)"). */
void tool_usage_net(FILE *f, const char *default_group,
                    const char *mode_help);

/* "cohort-chat (cohort 0.2.0), library 0.2.0" on stdout. */
void tool_print_version(void);

/* Defaults: group default_group, interface "lo", fifo, no security. */
void tool_net_init(struct tool_net *n, const char *default_group);

/* Handle one shared option. Returns 1 if it was one (and was valid), 0 if
 * opt is not a shared option, -1 (message printed) if its argument is bad.
 * HELP and VERSION are left to the tool (returns 0). */
int tool_net_option(struct tool_net *n, int opt, const char *arg);

/* Cross-option checks after parsing (--key with --security). Returns 0 or
 * -1 with a message printed. */
int tool_net_check(const struct tool_net *n);

/* getopt_long found an unknown option (call with opterr = 0): say which,
 * in our own words. */
void tool_bad_option(char **argv);

/* What every tool's option loop does first: the shared network options,
 * --help, --version and unknown options. Returns TOOL_OPT_NEXT (handled:
 * go on), TOOL_OPT_OWN (the tool's own option), or an exit code to return
 * with. argv is what getopt_long was given; usage prints the tool's. */
#define TOOL_OPT_NEXT (-1)
#define TOOL_OPT_OWN (-2)
int tool_common_option(struct tool_net *n, int opt, const char *arg,
                       char **argv, void (*usage)(FILE *));

/* The whole option loop of a tool: getopt_long over argv with longopts,
 * the shared options, --help, --version, unknown options, options without
 * their value ("--group needs a value") and stray arguments. Each of the
 * tool's own options goes to own(ctx, opt, optarg), which returns 0, or -1
 * after printing why the value is bad. Returns TOOL_OPT_NEXT when parsing
 * went through, else the exit code to return with. */
typedef int (*tool_own_option_fn)(void *ctx, int opt, const char *arg);
int tool_parse_options(struct tool_net *n, int argc, char **argv,
                       const struct option *longopts, void (*usage)(FILE *),
                       tool_own_option_fn own, void *ctx);
/* The same with the tool's own short options as getopt spells them
 * ("m:f:l"; -h and -V are always there); own() gets them as their
 * letter. */
int tool_parse_options_short(struct tool_net *n, int argc, char **argv,
                             const char *shortopts,
                             const struct option *longopts,
                             void (*usage)(FILE *), tool_own_option_fn own,
                             void *ctx);

/* Fill cfg (already initialised by cohort_config_init) from n. */
void tool_net_config(const struct tool_net *n, struct cohort_config *cfg);

/* cohort_config_init followed by tool_net_config. */
void tool_config(const struct tool_net *n, struct cohort_config *cfg);

/* Open a member configured by n alone (tool_config + tool_open). */
int tool_open_net(const struct tool_net *n, cohort_t **out);

/* Open a member from n, with cfg_extra applied by the caller beforehand in
 * *cfg (cfg must come from cohort_config_init + tool_net_config). Prints
 * the reason on failure. Returns 0 or the library's error. */
int tool_open(const struct cohort_config *cfg, cohort_t **out);

/* The names used on the command line. */
int tool_parse_mode(const char *s, cohort_mode_t *out);
const char *tool_mode_name(cohort_mode_t m);
int tool_parse_security(const char *s, cohort_security_t *out);
const char *tool_security_name(cohort_security_t s);
/* "xchacha20poly1305" (or "xchacha"), "aes256gcm" (or "aes"), "fastest". */
int tool_parse_cipher(const char *s, cohort_cipher_t *out);
const char *tool_cipher_name(cohort_cipher_t c);

/* Parse an unsigned decimal in [min, max]; on error print
 * "--opt: ..." and return -1. */
int tool_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max,
                   uint64_t *out);
/* Parse a positive decimal number of seconds (fractions allowed) <= max. */
int tool_parse_seconds(const char *opt, const char *s, double max,
                       double *out);
/* Parse "a,b,c" into at most max_n values in [min, max]. */
int tool_parse_list(const char *opt, const char *s, uint64_t min, uint64_t max,
                    uint64_t *out, size_t max_n, size_t *n_out);

/* ---------------- events ---------------- */

/* Take at most max events from c and hand each to fn(ctx, ev); returns how
 * many were taken. The bound keeps a flood from starving the caller. */
typedef void (*tool_event_fn)(void *ctx, const cohort_event_t *ev);
size_t tool_drain_events(cohort_t *c, size_t max, tool_event_fn fn,
                         void *ctx);

/* A warning event in one line: its text and error name, and for
 * COHORT_ERR_LOST which member lost how many messages. Returns buf. */
const char *tool_warning_text(const cohort_event_t *ev, char *buf,
                              size_t len);

/* "PROG: warning: ..." on stderr (tool_warning_text). */
void tool_print_warning(const cohort_event_t *ev);

/* Should progress lines be shown? Only when stderr is a terminal, so logs
 * and pipes stay clean. */
int tool_progress_wanted(void);

/* n-byte little-endian integers (n <= 8), as the tools' payload headers
 * store them. */
void tool_put_le(uint8_t *b, uint64_t v, int n);
uint64_t tool_get_le(const uint8_t *b, int n);

/* Monotonic clock. */
uint64_t tool_now_ns(void);

/* Milliseconds from now to deadline_ns, clamped to [0, cap_ms]. */
int tool_ms_until(uint64_t deadline_ns, int cap_ms);

/* Wait until the member's fd is readable, its timer is due, extra_fd (if
 * >= 0) is readable, or max_ms passes; then run cohort_process(). The
 * revents of extra_fd go to *extra_revents when non-NULL. Returns the
 * result of cohort_process() (events ready, or an error); EINTR is not an
 * error (returns 0). */
int tool_poll_process(cohort_t *c, int extra_fd, int max_ms,
                      short *extra_revents);

/* Number of other members c knows (itself excluded). */
size_t tool_others(const cohort_t *c);

/* SIGINT and SIGTERM set a flag read by tool_stop_requested() (without
 * SA_RESTART, so a blocked poll returns at once); SIGPIPE is ignored so a closed output pipe is an error, not a death. */
void tool_catch_signals(void);
int tool_stop_requested(void);

/* A fresh 32-bit value that differs between runs and processes. */
uint32_t tool_random_u32(void);

/* ---------------- helper processes ---------------- */

#define TOOL_ARGV_MAX 64
#define TOOL_CHILD_OUT_MAX 8192

/* A bounded argument vector for re-executing this program. */
struct tool_argv {
    const char *v[TOOL_ARGV_MAX + 1];
    char store[TOOL_ARGV_MAX][48];    /* room for numbers we format */
    size_t n;
    int overflow;
};

void tool_argv_init(struct tool_argv *a);
void tool_argv_add(struct tool_argv *a, const char *s);
void tool_argv_addf(struct tool_argv *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append the options that reproduce n (for child processes). */
void tool_argv_add_net(struct tool_argv *a, const struct tool_net *n);

struct tool_child {
    pid_t pid;
    int out_fd;                       /* its stdout, or -1 */
    char out[TOOL_CHILD_OUT_MAX];     /* what it printed, NUL-terminated */
    size_t out_len;
    int eof;
    int status;                       /* from waitpid, valid when reaped */
    int reaped;
};

/* Run this program again (/proc/self/exe) with argv a. env_kv ("NAME=value",
 * may be NULL) is added to the child's environment. With capture, the
 * child's stdout is kept in ch->out. Returns 0 or -1 (message printed). */
int tool_spawn(struct tool_child *ch, const struct tool_argv *a,
               const char *env_kv, int capture);

/* Read whatever the children printed, waiting at most max_ms. */
void tool_children_pump(struct tool_child *ch, size_t n, int max_ms);

/* Does the child's output contain a line starting with prefix? Returns the
 * line (NUL-terminated copy in buf) or NULL. */
const char *tool_child_line(const struct tool_child *ch, const char *prefix,
                            char *buf, size_t buf_len);

/* Wait for the children to exit, pumping their output, until until_ns at
 * the latest; kill none. Returns how many are still running. */
size_t tool_children_wait(struct tool_child *ch, size_t n, uint64_t until_ns);

/* Wait for all children to exit, pumping their output, until deadline_ns;
 * then SIGTERM the rest, and SIGKILL them a second later. Returns the
 * number that had to be killed. */
size_t tool_children_reap(struct tool_child *ch, size_t n,
                          uint64_t deadline_ns);

/* A one-word description of how a reaped child ended ("exit 0",
 * "signal 9", "timeout"). */
const char *tool_child_ending(const struct tool_child *ch, char *buf,
                              size_t buf_len);

/* Find key=value in a "RESULT k=v k=v" line; returns 0 if found. */
int tool_field_u64(const char *line, const char *key, uint64_t *out);

#endif /* COHORT_TOOLS_COMMON_H */

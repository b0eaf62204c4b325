/*
 * harness_net.c - per-member network namespaces on a bridge, and the
 * nftables rules that cut them apart (see harness_net.h).
 *
 * Layout: the harness unshares a fresh namespace for itself (the bridge
 * namespace: bridge "chbr", one port "hv<i>" per member, table bridge
 * cohort_harness), then one per member (lo, "ch0" with 10.77.0.<i+1>/24
 * and the route 224.0.0.0/4). It keeps a descriptor for each, so they
 * live exactly as long as the harness holds them. ip(8) and nft(8) run in
 * a child that first enters the namespace they are for, each bounded in
 * time.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "harness_net.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HN_CMD_WAIT_MS 10000
#define HN_TABLE "bridge cohort_harness"

static void hn_why(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void hn_why(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    if (why == NULL || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

/* Run argv (ip or nft) inside namespace ns_fd; 0 if it exited 0. Its
 * stderr goes to ours so a refusal is visible. Bounded: killed after
 * HN_CMD_WAIT_MS. */
static int hn_run(int ns_fd, char *const argv[])
{
    int status = 0;
    pid_t pid;
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            (void)dup2(null, STDOUT_FILENO);
        if (setns(ns_fd, CLONE_NEWNET) != 0)
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    for (int waited = 0; waited < HN_CMD_WAIT_MS; waited += 10) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
        if (r < 0 && errno != EINTR)
            return -1;
        nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
    }
    kill(pid, SIGKILL);
    (void)waitpid(pid, &status, 0);
    return -1;
}

/* Write text to dir/name and run "ip -batch" or "nft -f" on it in ns_fd. */
static int hn_run_file(const struct hn_net *n, int ns_fd, const char *tool,
                       const char *name, const char *text)
{
    char path[4200];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", n->dir, name);
    f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    if (fclose(f) != 0)
        return -1;
    char *argv[] = { (char *)tool, (char *)(tool[0] == 'i' ? "-batch" : "-f"),
                     path, NULL };
    int r = hn_run(ns_fd, argv);
    (void)unlink(path);
    return r;
}

/* A fresh namespace: unshare into it, keep a descriptor. -1 if refused. */
static int hn_new_ns(void)
{
    if (unshare(CLONE_NEWNET) != 0)
        return -1;
    return open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
}

/* Append to buf at at; returns the new end, len or more when it did not
 * fit (so one check after several appends is enough). */
static size_t hn_appendf(char *buf, size_t len, size_t at, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));

static size_t hn_appendf(char *buf, size_t len, size_t at, const char *fmt,
                         ...)
{
    va_list ap;
    int k;
    if (at >= len)
        return at;
    va_start(ap, fmt);
    k = vsnprintf(buf + at, len - at, fmt, ap);
    va_end(ap);
    return k < 0 ? len : at + (size_t)k;
}

static int hn_member(struct hn_net *n, uint32_t i)
{
    char cmds[512];
    size_t at = 0;
    at = hn_appendf(cmds, sizeof cmds, at, "link set lo up\n"
                    "link add " HN_MEMBER_IFACE " type veth peer name hv%u "
                    "netns %u\n", i, (unsigned)getpid());
    at = hn_appendf(cmds, sizeof cmds, at, "addr add 10.77.0.%u/24 dev "
                    HN_MEMBER_IFACE "\n", i + 1);
    at = hn_appendf(cmds, sizeof cmds, at, "link set " HN_MEMBER_IFACE
                    " up\nroute add 224.0.0.0/4 dev " HN_MEMBER_IFACE "\n");
    if (at >= sizeof cmds || hn_run_file(n, n->member_fd[i], "ip",
                                         "net-member.ip", cmds) != 0)
        return -1;
    at = hn_appendf(cmds, sizeof cmds, 0, "link set hv%u master chbr\n"
                    "link set hv%u up\n", i, i);
    return hn_run_file(n, n->bridge_fd, "ip", "net-port.ip", cmds);
}

int hn_open(struct hn_net *n, uint32_t members, unsigned drop_pct,
            const char *dir, char *why, size_t why_len)
{
    memset(n, 0, sizeof *n);
    n->orig_fd = n->bridge_fd = -1;
    for (uint32_t i = 0; i < HN_MAX_MEMBERS; i++)
        n->member_fd[i] = -1;
    if (members > HN_MAX_MEMBERS || drop_pct > 100) {
        hn_why(why, why_len, "%s", "internal: bad network size");
        return -1;
    }
    n->members = members;
    n->drop_pct = drop_pct;
    snprintf(n->dir, sizeof n->dir, "%s", dir);
    n->orig_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    n->bridge_fd = n->orig_fd < 0 ? -1 : hn_new_ns();
    if (n->bridge_fd < 0) {
        hn_why(why, why_len, "cannot create a network namespace (%s); "
               "needs root or user namespaces", strerror(errno));
        hn_close(n);
        return -1;
    }
    n->on = 1;
    for (uint32_t i = 0; i < members; i++) {
        n->member_fd[i] = hn_new_ns();
        if (n->member_fd[i] < 0 || hn_return(n) != 0) {
            hn_why(why, why_len, "cannot create a member namespace (%s)",
                   strerror(errno));
            hn_close(n);
            return -1;
        }
    }
    if (hn_run_file(n, n->bridge_fd, "ip", "net-bridge.ip",
                    "link set lo up\n"
                    "link add chbr type bridge mcast_snooping 0\n"
                    "link set chbr up\n") != 0) {
        hn_why(why, why_len, "%s", "ip(8) could not make the bridge");
        hn_close(n);
        return -1;
    }
    for (uint32_t i = 0; i < members; i++) {
        if (hn_member(n, i) != 0) {
            hn_why(why, why_len, "%s", "ip(8) could not set up a member's "
                   "veth, address or multicast route");
            hn_close(n);
            return -1;
        }
    }
    if (hn_cut(n, NULL) != 0) {
        hn_why(why, why_len, "%s", "nft(8) could not load the bridge rules");
        hn_close(n);
        return -1;
    }
    return 0;
}

int hn_enter(const struct hn_net *n, uint32_t i)
{
    if (!n->on || i >= n->members)
        return -1;
    return setns(n->member_fd[i], CLONE_NEWNET);
}

int hn_return(const struct hn_net *n)
{
    return setns(n->bridge_fd, CLONE_NEWNET);
}

int hn_cut(const struct hn_net *n, const uint8_t *group)
{
    /* a rule per ordered pair of members at most, and a few lines more */
    char rules[HN_MAX_MEMBERS * HN_MAX_MEMBERS * 64 + 512];
    size_t at = 0;
    if (!n->on)
        return -1;
    at = hn_appendf(rules, sizeof rules, at,
                    "table " HN_TABLE " {\n"
                    "    chain cut {\n"
                    "        type filter hook forward priority 0; "
                    "policy accept;\n    }\n}\n"
                    "flush chain " HN_TABLE " cut\n");
    for (uint32_t a = 0; group != NULL && a < n->members; a++)
        for (uint32_t b = 0; b < n->members; b++)
            if (group[a] != group[b])
                at = hn_appendf(rules, sizeof rules, at,
                                "add rule " HN_TABLE " cut iifname \"hv%u\" "
                                "oifname \"hv%u\" drop\n", a, b);
    if (n->drop_pct > 0)
        at = hn_appendf(rules, sizeof rules, at,
                        "add rule " HN_TABLE " cut ip protocol udp "
                        "numgen random mod 100 < %u drop\n", n->drop_pct);
    if (at >= sizeof rules) {
        fprintf(stderr, "harness: internal: nft rules too long\n");
        return -1;
    }
    if (hn_run_file(n, n->bridge_fd, "nft", "net-rules.nft", rules) != 0) {
        fprintf(stderr, "harness: nft could not load the bridge rules\n");
        return -1;
    }
    return 0;
}

void hn_close(struct hn_net *n)
{
    if (n->orig_fd >= 0 && n->bridge_fd >= 0)
        (void)setns(n->orig_fd, CLONE_NEWNET);
    for (uint32_t i = 0; i < HN_MAX_MEMBERS; i++) {
        if (n->member_fd[i] >= 0)
            close(n->member_fd[i]);
        n->member_fd[i] = -1;
    }
    if (n->bridge_fd >= 0)
        close(n->bridge_fd);
    if (n->orig_fd >= 0)
        close(n->orig_fd);
    n->bridge_fd = n->orig_fd = -1;
    n->on = 0;
}

/*
 * test_statsock.c - the stats socket (src/io/statsock.c): the snapshot's
 * text encoding, the socket file's mode and the paths it refuses, the
 * bound on connections served a turn, and a member opened with
 * cfg.stats_socket answering a client from cohort_process().
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cohort.h"
#include "statsock.h"

static void fill_meta(co_statsock_meta_t *m)
{
    memset(m, 0, sizeof *m);
    m->version = "9.8.7";
    m->group = "g1";
    m->name = "a b\\c\n";
    m->self.id = 0xdeadbeefu;
    m->self.incarnation = 42;
    m->view_id = 77;
    m->view_members = 3;
    m->now_ns = 123456789;
}

static void fill_stats(struct cohort_stats *s)
{
    memset(s, 0, sizeof *s);
    s->struct_size = sizeof *s;
    s->datagrams_sent = 7;
    s->messages_sent[COHORT_FIFO] = 5;
    s->send_window_used_bytes = 9;
    s->drops[COHORT_DROP_AUTH] = 3;
    s->exclusions_seen = 11;
    s->stats_socket_served = 2;
}

static void assert_has(const char *text, const char *line)
{
    if (strstr(text, line) == NULL)
        fail_msg("snapshot lacks '%s':\n%s", line, text);
}

static void test_encode(void **state)
{
    (void)state;
    struct cohort_stats s;
    co_statsock_meta_t m;
    char buf[CO_STATSOCK_SNAPSHOT_MAX], want[96];
    fill_stats(&s);
    fill_meta(&m);
    int n = co_statsock_encode(&s, &m, buf, sizeof buf);
    assert_true(n > 0 && (size_t)n == strlen(buf));
    assert_int_equal(strncmp(buf, "cohort-stats 1\n", 15), 0);
    assert_has(buf, "\ns library 9.8.7\n");
    assert_has(buf, "\ns group g1\n");
    /* space, backslash and newline escaped: one word, one line */
    assert_has(buf, "\ns name a\\x20b\\x5cc\\x0a\n");
    assert_has(buf, "\ng member_id 3735928559\n");
    assert_has(buf, "\ng incarnation 42\n");
    assert_has(buf, "\ng time_ns 123456789\n");
    assert_has(buf, "\ng view_id 77\n");
    assert_has(buf, "\ng view_members 3\n");
    assert_has(buf, "\nc datagrams_sent 7\n");
    assert_has(buf, "\nc messages_sent.fifo 5\n");
    assert_has(buf, "\nc messages_sent.unreliable 0\n");
    assert_has(buf, "\ng send_window_used_bytes 9\n");
    assert_has(buf, "\nc exclusions_seen 11\n");
    assert_has(buf, "\nc stats_socket_served 2\n");
    for (int r = 0; r < COHORT_DROP__COUNT; r++) {
        snprintf(want, sizeof want, "\nc drops.%s %d\n",
                 cohort_drop_reason_name(r), r == COHORT_DROP_AUTH ? 3 : 0);
        assert_has(buf, want);
    }
    assert_int_equal(strcmp(buf + n - 5, "\nend\n"), 0);
    /* every line: the version, "end", or KIND NAME VALUE */
    for (char *line = strtok(buf, "\n"); line != NULL;
         line = strtok(NULL, "\n")) {
        char kind, name[64], value[96], extra[8];
        if (strcmp(line, "cohort-stats 1") == 0 || strcmp(line, "end") == 0)
            continue;
        assert_int_equal(sscanf(line, "%c %63s %95s %7s", &kind, name, value,
                                extra), 3);
        assert_true(kind == 'c' || kind == 'g' || kind == 's');
    }
}

static void test_encode_needs_room(void **state)
{
    (void)state;
    struct cohort_stats s;
    co_statsock_meta_t m;
    char buf[CO_STATSOCK_SNAPSHOT_MAX];
    fill_stats(&s);
    fill_meta(&m);
    m.name = NULL;              /* no name: "-" */
    m.group = "";
    int n = co_statsock_encode(&s, &m, buf, sizeof buf);
    assert_true(n > 0);
    assert_has(buf, "\ns name -\n");
    assert_has(buf, "\ns group -\n");
    assert_int_equal(co_statsock_encode(&s, &m, buf, (size_t)n + 1), n);
    assert_int_equal(co_statsock_encode(&s, &m, buf, (size_t)n), -1);
    assert_int_equal(co_statsock_encode(&s, &m, buf, 10), -1);
    assert_int_equal(co_statsock_encode(&s, &m, buf, 0), -1);
}

/* ------------------------------------------------------------------ */

static char g_dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/cohort-statsock.XXXXXX");
    return mkdtemp(g_dir) != NULL ? 0 : -1;
}

static int remove_dir(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int client(const char *path)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Everything the server wrote until it closed. */
static size_t read_all(int fd, char *buf, size_t len)
{
    size_t got = 0;
    for (int i = 0; i < 1000 && got + 1 < len; i++) {
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    close(fd);
    return got;
}

static int fill_fixed(void *ctx, char *buf, size_t len)
{
    struct cohort_stats s;
    co_statsock_meta_t m;
    (void)ctx;
    fill_stats(&s);
    fill_meta(&m);
    return co_statsock_encode(&s, &m, buf, len);
}

static void test_socket_private_and_served(void **state)
{
    (void)state;
    char path[128], buf[CO_STATSOCK_SNAPSHOT_MAX + 1], why[256];
    struct stat st;
    co_statsock_t *s = NULL;
    snprintf(path, sizeof path, "%s/member.sock", g_dir);
    umask(0);                  /* the mode must not come from the umask */
    assert_int_equal(co_statsock_open(&s, path, why, sizeof why), 0);
    umask(022);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(co_statsock_serve(s, fill_fixed, NULL), 0); /* none */
    int fd = client(path);
    assert_int_equal(co_statsock_serve(s, fill_fixed, NULL), 1);
    size_t n = read_all(fd, buf, sizeof buf);
    assert_true(n > 20);
    assert_int_equal(strncmp(buf, "cohort-stats 1\n", 15), 0);
    assert_int_equal(strcmp(buf + n - 4, "end\n"), 0);
    assert_int_equal(co_statsock_served(s), 1);
    assert_int_equal(co_statsock_refused(s), 0);
    co_statsock_close(s);
    assert_int_equal(lstat(path, &st), -1);   /* removed at close */
}

static void test_connections_bounded_per_turn(void **state)
{
    (void)state;
    char path[128], buf[CO_STATSOCK_SNAPSHOT_MAX + 1], why[256];
    int fds[CO_STATSOCK_ACCEPT_MAX + 2];
    co_statsock_t *s = NULL;
    snprintf(path, sizeof path, "%s/bounded.sock", g_dir);
    assert_int_equal(co_statsock_open(&s, path, why, sizeof why), 0);
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        fds[i] = client(path);
    assert_int_equal(co_statsock_serve(s, fill_fixed, NULL),
                     CO_STATSOCK_ACCEPT_MAX);
    assert_int_equal(co_statsock_serve(s, fill_fixed, NULL), 2);
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        assert_true(read_all(fds[i], buf, sizeof buf) > 0);
    co_statsock_close(s);
}

static void test_paths_refused(void **state)
{
    (void)state;
    char path[256], open_dir[128], why[256];
    co_statsock_t *s = NULL, *t = NULL;
    struct stat st;
    /* a regular file is never replaced */
    snprintf(path, sizeof path, "%s/file", g_dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(co_statsock_open(&s, path, why, sizeof why),
                     COHORT_ERR_SYSTEM);
    assert_int_equal(errno, EEXIST);
    assert_null(s);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    /* a live member's socket is not taken over */
    snprintf(path, sizeof path, "%s/live.sock", g_dir);
    assert_int_equal(co_statsock_open(&s, path, why, sizeof why), 0);
    assert_int_equal(co_statsock_open(&t, path, why, sizeof why),
                     COHORT_ERR_SYSTEM);
    assert_int_equal(errno, EADDRINUSE);
    co_statsock_close(s);
    /* a dead member's socket is replaced */
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/stale.sock", g_dir);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
    assert_int_equal(co_statsock_open(&s, sa.sun_path, why, sizeof why), 0);
    co_statsock_close(s);
    /* a directory others may write to (not sticky) */
    snprintf(open_dir, sizeof open_dir, "%s/open", g_dir);
    assert_int_equal(mkdir(open_dir, 0700), 0);
    assert_int_equal(chmod(open_dir, 0777), 0);
    snprintf(path, sizeof path, "%s/x.sock", open_dir);
    assert_int_equal(co_statsock_open(&s, path, why, sizeof why),
                     COHORT_ERR_INVAL);
    assert_non_null(strstr(why, "writable by others"));
    /* sticky, as /tmp: allowed */
    assert_int_equal(chmod(open_dir, 01777), 0);
    assert_int_equal(co_statsock_open(&s, path, why, sizeof why), 0);
    co_statsock_close(s);
    /* no such directory; empty; too long */
    snprintf(path, sizeof path, "%s/none/x.sock", g_dir);
    assert_int_equal(co_statsock_open(&s, path, why, sizeof why),
                     COHORT_ERR_SYSTEM);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(co_statsock_open(&s, "", why, sizeof why),
                     COHORT_ERR_INVAL);
    memset(path, 'a', 200);
    path[200] = '\0';
    assert_int_equal(co_statsock_open(&s, path, why, sizeof why),
                     COHORT_ERR_INVAL);
}

/* The public path: a member opened with cfg.stats_socket answers from
 * cohort_process(); a bad path fails cohort_open() with its reason. */
static void test_member_serves_snapshot(void **state)
{
    (void)state;
    char path[128], buf[CO_STATSOCK_SNAPSHOT_MAX + 1];
    struct cohort_config cfg;
    cohort_t *c = NULL;
    snprintf(path, sizeof path, "%s/kvd.sock", g_dir);
    cohort_config_init(&cfg);
    assert_null(cfg.stats_socket);          /* off by default */
    cfg.group = "statsock-test";
    cfg.interface = "lo";
    cfg.port = (uint16_t)(30000 + (getpid() * 13 + 5) % 20000);
    cfg.faults = "";
    cfg.stats_socket = g_dir;               /* a directory: refused */
    assert_int_equal(cohort_open(&c, &cfg), COHORT_ERR_SYSTEM);
    assert_non_null(strstr(cohort_last_error_text(), "stats_socket"));
    cfg.stats_socket = path;
    int rc = cohort_open(&c, &cfg);
    if (rc == COHORT_ERR_ADDRESS)
        skip();                              /* no multicast on lo here */
    assert_int_equal(rc, 0);
    int fd = client(path);
    for (int i = 0; i < 200; i++) {
        struct timespec ts = {0, 5000000};
        (void)cohort_process(c);
        struct cohort_stats st;
        memset(&st, 0, sizeof st);
        st.struct_size = sizeof st;
        assert_int_equal(cohort_stats(c, &st), 0);
        if (st.stats_socket_served == 1)
            break;
        nanosleep(&ts, NULL);
    }
    size_t n = read_all(fd, buf, sizeof buf);
    assert_true(n > 0);
    assert_has(buf, "\ns group statsock-test\n");
    assert_has(buf, "\nc datagrams_sent ");
    assert_int_equal(strcmp(buf + n - 4, "end\n"), 0);
    cohort_close(c);
    struct stat sst;
    assert_int_equal(lstat(path, &sst), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_encode_needs_room),
        cmocka_unit_test(test_socket_private_and_served),
        cmocka_unit_test(test_connections_bounded_per_turn),
        cmocka_unit_test(test_paths_refused),
        cmocka_unit_test(test_member_serves_snapshot),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}

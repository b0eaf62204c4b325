/*
 * kvd_cmd.c - cohort-kvd's commands (see kvd_cmd.h). Each handler parses
 * its options first and returns after that in check mode (x->store NULL),
 * so the syntax checked at the origin and the syntax applied at every
 * replica are one piece of code.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#include "kvd_cmd.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define ERR_SYNTAX "ERR syntax error"
#define ERR_NOT_INT "ERR value is not an integer or out of range"
#define ERR_NOMEM "ERR out of memory"
#define SCAN_COUNT_DEFAULT 10

static void reply_nomem(struct kvd_exec *x) { kvd_resp_error(x->out, ERR_NOMEM); }

int kvd_parse_ll(const struct kvd_arg *a, long long *out)
{
    const char *p = a->p;
    size_t n = a->len, i = 0;
    unsigned long long v = 0, lim;
    int neg = 0;
    if (n == 0 || n > 20)
        return -1;
    if (n == 1 && p[0] == '0') {
        *out = 0;
        return 0;
    }
    if (p[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == n || p[i] < '1' || p[i] > '9')
        return -1;
    lim = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
    for (; i < n; i++) {
        unsigned d;
        if (p[i] < '0' || p[i] > '9')
            return -1;
        d = (unsigned)(p[i] - '0');
        if (v > (lim - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = neg ? (v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN
                                                         : -(long long)v)
               : (long long)v;
    return 0;
}

void kvd_digest_hex(const struct kvd_store *s, char out[33])
{
    uint8_t d[16];
    kvd_store_digest(s, d);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* ------------------------------------------------------------------ */
/* Strings                                                             */
/* ------------------------------------------------------------------ */

static void cmd_get(struct kvd_exec *x, size_t argc, const struct kvd_arg *v)
{
    const struct kvd_entry *e = kvd_store_get(x->store, v[1].p, v[1].len);
    (void)argc;
    if (e == NULL)
        kvd_resp_null(x->out);
    else
        kvd_resp_bulk(x->out, e->val, e->vlen);
}

struct set_opts {
    int nx, xx, get, keepttl;
    int unit;                  /* 0 none; 'E' EX, 'P' PX, 'e' EXAT, 'p' PXAT */
    long long n;
};

/* Relative (EX, PX) or absolute (EXAT, PXAT) expiry in ms, or -1 if it
 * overflows. */
static long long expire_at(int unit, long long n, uint64_t time_ms)
{
    long long ms = n;
    if (unit == 'E' || unit == 'e') {
        if (n > LLONG_MAX / 1000)
            return -1;
        ms = n * 1000;
    }
    if (unit == 'E' || unit == 'P') {
        if (ms > LLONG_MAX - (long long)time_ms)
            return -1;
        ms += (long long)time_ms;
    }
    return ms;
}

static int set_parse(size_t argc, const struct kvd_arg *v, struct set_opts *o,
                     struct kvd_buf *out)
{
    memset(o, 0, sizeof *o);
    for (size_t i = 3; i < argc; i++) {
        static const char *units[] = { "ex", "px", "exat", "pxat" };
        static const int codes[] = { 'E', 'P', 'e', 'p' };
        int unit = 0;
        for (int k = 0; k < 4; k++)
            if (kvd_arg_is(&v[i], units[k]))
                unit = codes[k];
        if (kvd_arg_is(&v[i], "nx") && !o->xx) {
            o->nx = 1;
        } else if (kvd_arg_is(&v[i], "xx") && !o->nx) {
            o->xx = 1;
        } else if (kvd_arg_is(&v[i], "get")) {
            o->get = 1;
        } else if (kvd_arg_is(&v[i], "keepttl") && !o->unit) {
            o->keepttl = 1;
        } else if (unit && !o->unit && !o->keepttl && i + 1 < argc) {
            o->unit = unit;
            if (kvd_parse_ll(&v[++i], &o->n) != 0) {
                kvd_resp_error(out, ERR_NOT_INT);
                return -1;
            }
            if (o->n <= 0 || expire_at(unit, o->n, 0) < 0) {
                kvd_resp_error(out, "ERR invalid expire time in 'set' command");
                return -1;
            }
        } else {
            kvd_resp_error(out, ERR_SYNTAX);
            return -1;
        }
    }
    return 0;
}

static void cmd_set(struct kvd_exec *x, size_t argc, const struct kvd_arg *v)
{
    struct set_opts o;
    struct kvd_entry *e;
    long long at = 0;
    if (set_parse(argc, v, &o, x->out) != 0 || x->store == NULL)
        return;
    if (o.unit) {
        at = expire_at(o.unit, o.n, x->time_ms);
        if (at < 0) {
            kvd_resp_error(x->out, "ERR invalid expire time in 'set' command");
            return;
        }
    }
    e = kvd_store_get(x->store, v[1].p, v[1].len);
    if (o.get) {
        if (e == NULL)
            kvd_resp_null(x->out);
        else
            kvd_resp_bulk(x->out, e->val, e->vlen);
    }
    if ((o.nx && e != NULL) || (o.xx && e == NULL)) {
        if (!o.get)
            kvd_resp_null(x->out);
        return;
    }
    if (o.keepttl && e != NULL)
        at = (long long)e->expire_ms;
    if (kvd_store_set(x->store, v[1].p, v[1].len, v[2].p, v[2].len,
                      (uint64_t)at) != 0) {
        if (!o.get)
            reply_nomem(x);
        return;
    }
    if (!o.get)
        kvd_resp_simple(x->out, "OK");
}

/* INCR, DECR, INCRBY, DECRBY: v[0] names which. */
static void cmd_incr(struct kvd_exec *x, size_t argc, const struct kvd_arg *v)
{
    long long delta = 1, cur = 0;
    int decr = (v[0].p[0] | 0x20) == 'd';
    struct kvd_entry *e;
    char num[24];
    int n;
    if (argc == 3 && kvd_parse_ll(&v[2], &delta) != 0) {
        kvd_resp_error(x->out, ERR_NOT_INT);
        return;
    }
    if (decr) {
        if (delta == LLONG_MIN) {
            kvd_resp_error(x->out, "ERR decrement would overflow");
            return;
        }
        delta = -delta;
    }
    if (x->store == NULL)
        return;
    e = kvd_store_get(x->store, v[1].p, v[1].len);
    if (e != NULL) {
        struct kvd_arg a = { e->val, e->vlen };
        if (kvd_parse_ll(&a, &cur) != 0) {
            kvd_resp_error(x->out, ERR_NOT_INT);
            return;
        }
    }
    if ((delta > 0 && cur > LLONG_MAX - delta) ||
        (delta < 0 && cur < LLONG_MIN - delta)) {
        kvd_resp_error(x->out, "ERR increment or decrement would overflow");
        return;
    }
    cur += delta;
    n = snprintf(num, sizeof num, "%lld", cur);
    if ((e != NULL ? kvd_store_set_value(x->store, e, num, (size_t)n)
                   : kvd_store_set(x->store, v[1].p, v[1].len, num,
                                   (size_t)n, 0)) != 0) {
        reply_nomem(x);
        return;
    }
    kvd_resp_int(x->out, cur);
}

static void cmd_append(struct kvd_exec *x, size_t argc,
                       const struct kvd_arg *v)
{
    struct kvd_entry *e;
    (void)argc;
    if (x->store == NULL)
        return;
    e = kvd_store_get(x->store, v[1].p, v[1].len);
    if (e != NULL && v[2].len > KVD_STORE_MAX_VALUE_BYTES - e->vlen) {
        kvd_resp_error(x->out, "ERR string exceeds maximum allowed size "
                               "(proto-max-bulk-len)");
        return;
    }
    if ((e != NULL ? kvd_store_append(x->store, e, v[2].p, v[2].len)
                   : kvd_store_set(x->store, v[1].p, v[1].len, v[2].p,
                                   v[2].len, 0)) != 0) {
        reply_nomem(x);
        return;
    }
    e = kvd_store_get(x->store, v[1].p, v[1].len);
    kvd_resp_int(x->out, e ? (int64_t)e->vlen : 0);
}

static void cmd_strlen(struct kvd_exec *x, size_t argc,
                       const struct kvd_arg *v)
{
    const struct kvd_entry *e = kvd_store_get(x->store, v[1].p, v[1].len);
    (void)argc;
    kvd_resp_int(x->out, e ? (int64_t)e->vlen : 0);
}

static void cmd_mget(struct kvd_exec *x, size_t argc, const struct kvd_arg *v)
{
    kvd_resp_array(x->out, argc - 1);
    for (size_t i = 1; i < argc; i++) {
        const struct kvd_entry *e = kvd_store_get(x->store, v[i].p, v[i].len);
        if (e == NULL)
            kvd_resp_null(x->out);
        else
            kvd_resp_bulk(x->out, e->val, e->vlen);
    }
}

static void cmd_mset(struct kvd_exec *x, size_t argc, const struct kvd_arg *v)
{
    if (argc % 2 == 0) {
        kvd_resp_error(x->out, "ERR wrong number of arguments for 'mset' "
                               "command");
        return;
    }
    if (x->store == NULL)
        return;
    for (size_t i = 1; i + 1 < argc; i += 2) {
        if (kvd_store_set(x->store, v[i].p, v[i].len, v[i + 1].p,
                          v[i + 1].len, 0) != 0) {
            reply_nomem(x);
            return;
        }
    }
    kvd_resp_simple(x->out, "OK");
}

/* ------------------------------------------------------------------ */
/* Keys                                                                */
/* ------------------------------------------------------------------ */

/* DEL and EXISTS: v[0] names which. */
static void cmd_del(struct kvd_exec *x, size_t argc, const struct kvd_arg *v)
{
    int del = (v[0].p[0] | 0x20) == 'd';
    int64_t n = 0;
    if (x->store == NULL)
        return;
    for (size_t i = 1; i < argc; i++) {
        if (del)
            n += kvd_store_del(x->store, v[i].p, v[i].len);
        else
            n += kvd_store_get(x->store, v[i].p, v[i].len) != NULL;
    }
    kvd_resp_int(x->out, n);
}

struct key_list {
    struct kvd_args keys;
    const struct kvd_arg *pat;     /* NULL: all */
    int failed;
};

static void collect_key(void *ctx, const struct kvd_entry *e)
{
    struct key_list *k = ctx;
    if (k->pat != NULL &&
        !kvd_glob_match(k->pat->p, k->pat->len, e->key, e->klen))
        return;
    if (kvd_args_push(&k->keys, e->key, e->klen) != 0)
        k->failed = 1;
}

static void reply_keys(struct kvd_exec *x, struct key_list *k)
{
    if (k->failed) {
        reply_nomem(x);
    } else {
        kvd_resp_array(x->out, k->keys.n);
        for (size_t i = 0; i < k->keys.n; i++)
            kvd_resp_bulk(x->out, k->keys.v[i].p, k->keys.v[i].len);
    }
    kvd_args_free(&k->keys);
}

static void cmd_keys(struct kvd_exec *x, size_t argc, const struct kvd_arg *v)
{
    struct key_list k;
    uint64_t cursor = 0;
    (void)argc;
    memset(&k, 0, sizeof k);
    k.pat = (v[1].len == 1 && v[1].p[0] == '*') ? NULL : &v[1];
    do
        cursor = kvd_store_scan(x->store, cursor, collect_key, &k);
    while (cursor != 0);
    reply_keys(x, &k);
}

static int parse_cursor(const struct kvd_arg *a, uint64_t *out)
{
    uint64_t v = 0;
    if (a->len == 0 || a->len > 20)
        return -1;
    for (size_t i = 0; i < a->len; i++) {
        unsigned d = (unsigned)(a->p[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static void cmd_scan(struct kvd_exec *x, size_t argc, const struct kvd_arg *v)
{
    struct key_list k;
    uint64_t cursor;
    long long count = SCAN_COUNT_DEFAULT, iter;
    int other_type = 0;
    char num[24];
    memset(&k, 0, sizeof k);
    if (parse_cursor(&v[1], &cursor) != 0) {
        kvd_resp_error(x->out, "ERR invalid cursor");
        return;
    }
    for (size_t i = 2; i < argc; i++) {
        if (i + 1 == argc) {
            kvd_resp_error(x->out, ERR_SYNTAX);
            return;
        }
        if (kvd_arg_is(&v[i], "match")) {
            k.pat = &v[++i];
        } else if (kvd_arg_is(&v[i], "count")) {
            if (kvd_parse_ll(&v[++i], &count) != 0) {
                kvd_resp_error(x->out, ERR_NOT_INT);
                return;
            }
            if (count < 1) {
                kvd_resp_error(x->out, ERR_SYNTAX);
                return;
            }
        } else if (kvd_arg_is(&v[i], "type")) {
            other_type = !kvd_arg_is(&v[++i], "string");
        } else {
            kvd_resp_error(x->out, ERR_SYNTAX);
            return;
        }
    }
    /* Like Redis: about count keys, and at most 10 * count buckets so a
     * sparse table does not make one call long. */
    iter = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
    do
        cursor = kvd_store_scan(x->store, cursor, collect_key, &k);
    while (cursor != 0 && --iter > 0 && (long long)k.keys.n < count);
    if (other_type)
        k.keys.n = 0;
    kvd_resp_array(x->out, 2);
    snprintf(num, sizeof num, "%llu", (unsigned long long)cursor);
    kvd_resp_bulk_str(x->out, num);
    reply_keys(x, &k);
}

static void cmd_dbsize(struct kvd_exec *x, size_t argc,
                       const struct kvd_arg *v)
{
    (void)argc;
    (void)v;
    kvd_resp_int(x->out, (int64_t)x->store->count);
}

static void cmd_flush(struct kvd_exec *x, size_t argc,
                      const struct kvd_arg *v)
{
    if (argc > 2 || (argc == 2 && !kvd_arg_is(&v[1], "async") &&
                     !kvd_arg_is(&v[1], "sync"))) {
        kvd_resp_error(x->out, ERR_SYNTAX);
        return;
    }
    if (x->store == NULL)
        return;
    kvd_store_clear(x->store);
    kvd_resp_simple(x->out, "OK");
}

/* TTL and PTTL: v[0] names which. */
static void cmd_ttl(struct kvd_exec *x, size_t argc, const struct kvd_arg *v)
{
    const struct kvd_entry *e = kvd_store_get(x->store, v[1].p, v[1].len);
    uint64_t left;
    (void)argc;
    if (e == NULL) {
        kvd_resp_int(x->out, -2);
        return;
    }
    if (e->expire_ms == 0) {
        kvd_resp_int(x->out, -1);
        return;
    }
    left = e->expire_ms - x->store->now_ms;
    kvd_resp_int(x->out, (int64_t)((v[0].p[0] | 0x20) == 'p'
                                       ? left : (left + 500) / 1000));
}

/* EXPIRE and PEXPIRE key n [NX|XX|GT|LT]: v[0] names which. */
static void cmd_expire(struct kvd_exec *x, size_t argc,
                       const struct kvd_arg *v)
{
    int ms = (v[0].p[0] | 0x20) == 'p';
    int nx = 0, xx = 0, gt = 0, lt = 0;
    long long n, at;
    struct kvd_entry *e;
    if (kvd_parse_ll(&v[2], &n) != 0) {
        kvd_resp_error(x->out, ERR_NOT_INT);
        return;
    }
    for (size_t i = 3; i < argc; i++) {
        nx |= kvd_arg_is(&v[i], "nx");
        xx |= kvd_arg_is(&v[i], "xx");
        gt |= kvd_arg_is(&v[i], "gt");
        lt |= kvd_arg_is(&v[i], "lt");
        if (!kvd_arg_is(&v[i], "nx") && !kvd_arg_is(&v[i], "xx") &&
            !kvd_arg_is(&v[i], "gt") && !kvd_arg_is(&v[i], "lt")) {
            kvd_resp_error(x->out, "ERR Unsupported option %.*s",
                           (int)(v[i].len > 64 ? 64 : v[i].len), v[i].p);
            return;
        }
    }
    if ((nx && (xx || gt || lt)) || (gt && lt)) {
        kvd_resp_error(x->out, "ERR NX and XX, GT or LT options at the "
                               "same time are not compatible");
        return;
    }
    if ((!ms && (n > LLONG_MAX / 1000 || n < LLONG_MIN / 1000))) {
        kvd_resp_error(x->out, "ERR invalid expire time in '%s' command",
                       ms ? "pexpire" : "expire");
        return;
    }
    if (ms)
        at = n;
    else
        at = n * 1000;
    if (at > 0 && at > LLONG_MAX - (long long)x->time_ms) {
        kvd_resp_error(x->out, "ERR invalid expire time in '%s' command",
                       ms ? "pexpire" : "expire");
        return;
    }
    if (x->store == NULL)
        return;
    at += (long long)x->time_ms;
    e = kvd_store_get(x->store, v[1].p, v[1].len);
    if (e == NULL || (nx && e->expire_ms != 0) || (xx && e->expire_ms == 0) ||
        (gt && (e->expire_ms == 0 || (long long)e->expire_ms >= at)) ||
        (lt && e->expire_ms != 0 && (long long)e->expire_ms <= at)) {
        kvd_resp_int(x->out, 0);
        return;
    }
    /* A time already past removes the key, as in Redis. */
    if (kvd_store_expire(x->store, e, at <= 0 ? 1 : (uint64_t)at) < 0) {
        reply_nomem(x);
        return;
    }
    kvd_resp_int(x->out, 1);
}

static void cmd_persist(struct kvd_exec *x, size_t argc,
                        const struct kvd_arg *v)
{
    struct kvd_entry *e;
    (void)argc;
    if (x->store == NULL)
        return;
    e = kvd_store_get(x->store, v[1].p, v[1].len);
    if (e == NULL || e->expire_ms == 0) {
        kvd_resp_int(x->out, 0);
        return;
    }
    (void)kvd_store_expire(x->store, e, 0);
    kvd_resp_int(x->out, 1);
}

static void cmd_digest(struct kvd_exec *x, size_t argc,
                       const struct kvd_arg *v)
{
    char hex[33];
    (void)argc;
    (void)v;
    kvd_digest_hex(x->store, hex);
    kvd_resp_bulk_str(x->out, hex);
}

/* ------------------------------------------------------------------ */
/* Connection-local commands                                           */
/* ------------------------------------------------------------------ */

static void cmd_ping(struct kvd_exec *x, size_t argc, const struct kvd_arg *v)
{
    if (argc > 2)
        kvd_resp_error(x->out, "ERR wrong number of arguments for 'ping' "
                               "command");
    else if (argc == 2)
        kvd_resp_bulk(x->out, v[1].p, v[1].len);
    else
        kvd_resp_simple(x->out, "PONG");
}

static void cmd_echo(struct kvd_exec *x, size_t argc, const struct kvd_arg *v)
{
    (void)argc;
    kvd_resp_bulk(x->out, v[1].p, v[1].len);
}

static void cmd_select(struct kvd_exec *x, size_t argc,
                       const struct kvd_arg *v)
{
    long long db;
    (void)argc;
    if (kvd_parse_ll(&v[1], &db) != 0)
        kvd_resp_error(x->out, ERR_NOT_INT);
    else if (db != 0)
        kvd_resp_error(x->out, "ERR DB index is out of range");
    else
        kvd_resp_simple(x->out, "OK");
}

static void cmd_command(struct kvd_exec *x, size_t argc,
                        const struct kvd_arg *v);

/* ------------------------------------------------------------------ */
/* The table                                                           */
/* ------------------------------------------------------------------ */

#define W KVD_CMD_WRITE
#define R KVD_CMD_READ
#define L KVD_CMD_LOCAL
#define S KVD_CMD_SERVER
static const struct kvd_cmd_def COMMANDS[] = {
    { "append", 3, W, 1, 1, 1, KVD_ID_OTHER, cmd_append },
    { "client", -2, S, 0, 0, 0, KVD_ID_CLIENT, NULL },
    { "command", -1, L, 0, 0, 0, KVD_ID_OTHER, cmd_command },
    { "config", -2, S, 0, 0, 0, KVD_ID_CONFIG, NULL },
    { "dbsize", 1, R, 0, 0, 0, KVD_ID_OTHER, cmd_dbsize },
    { "decr", 2, W, 1, 1, 1, KVD_ID_OTHER, cmd_incr },
    { "decrby", 3, W, 1, 1, 1, KVD_ID_OTHER, cmd_incr },
    { "del", -2, W, 1, -1, 1, KVD_ID_OTHER, cmd_del },
    { "echo", 2, L, 0, 0, 0, KVD_ID_OTHER, cmd_echo },
    { "exists", -2, R, 1, -1, 1, KVD_ID_OTHER, cmd_del },
    { "expire", -3, W, 1, 1, 1, KVD_ID_OTHER, cmd_expire },
    { "flushall", -1, W, 0, 0, 0, KVD_ID_OTHER, cmd_flush },
    { "flushdb", -1, W, 0, 0, 0, KVD_ID_OTHER, cmd_flush },
    { "get", 2, R, 1, 1, 1, KVD_ID_OTHER, cmd_get },
    { "incr", 2, W, 1, 1, 1, KVD_ID_OTHER, cmd_incr },
    { "incrby", 3, W, 1, 1, 1, KVD_ID_OTHER, cmd_incr },
    { "info", -1, S, 0, 0, 0, KVD_ID_INFO, NULL },
    { "keys", 2, R, 0, 0, 0, KVD_ID_OTHER, cmd_keys },
    { "kvd.digest", 1, R, 0, 0, 0, KVD_ID_OTHER, cmd_digest },
    { "mget", -2, R, 1, -1, 1, KVD_ID_OTHER, cmd_mget },
    { "mset", -3, W, 1, -1, 2, KVD_ID_OTHER, cmd_mset },
    { "persist", 2, W, 1, 1, 1, KVD_ID_OTHER, cmd_persist },
    { "pexpire", -3, W, 1, 1, 1, KVD_ID_OTHER, cmd_expire },
    { "ping", -1, L, 0, 0, 0, KVD_ID_OTHER, cmd_ping },
    { "pttl", 2, R, 1, 1, 1, KVD_ID_OTHER, cmd_ttl },
    { "quit", -1, S, 0, 0, 0, KVD_ID_QUIT, NULL },
    { "scan", -2, R, 0, 0, 0, KVD_ID_OTHER, cmd_scan },
    { "select", 2, L, 0, 0, 0, KVD_ID_OTHER, cmd_select },
    { "set", -3, W, 1, 1, 1, KVD_ID_OTHER, cmd_set },
    { "strlen", 2, R, 1, 1, 1, KVD_ID_OTHER, cmd_strlen },
    { "ttl", 2, R, 1, 1, 1, KVD_ID_OTHER, cmd_ttl },
};
#undef W
#undef R
#undef L
#undef S
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

/* Every command a client sends, and every write a replica applies, is
 * looked up here: a binary search of the table, which is kept sorted
 * (checked once, at the first lookup). */
const struct kvd_cmd_def *kvd_cmd_find(const struct kvd_arg *name)
{
    static int checked;
    if (!checked) {
        for (size_t i = 1; i < N_COMMANDS; i++)
            assert(strcmp(COMMANDS[i - 1].name, COMMANDS[i].name) < 0);
        checked = 1;
    }
    size_t lo = 0, hi = N_COMMANDS;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = kvd_arg_cmp(name, COMMANDS[mid].name);
        if (c == 0)
            return &COMMANDS[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

void kvd_cmd_unknown(struct kvd_buf *out, size_t argc,
                     const struct kvd_arg *argv)
{
    char args[160];
    size_t len = 0;
    args[0] = '\0';
    /* As Redis: the arguments quoted, until 128 bytes of them. */
    for (size_t i = 1; i < argc && len < 128; i++) {
        int n = snprintf(args + len, sizeof args - len, "'%.*s' ",
                         (int)(argv[i].len < 128 - len ? argv[i].len
                                                       : 128 - len),
                         argv[i].p);
        if (n < 0)
            break;
        len += (size_t)n < sizeof args - len ? (size_t)n
                                             : sizeof args - len - 1;
    }
    kvd_resp_error(out, "ERR unknown command '%.*s', with args beginning "
                        "with: %s",
                   (int)(argv[0].len > 128 ? 128 : argv[0].len), argv[0].p,
                   args);
}

int kvd_cmd_arity(const struct kvd_cmd_def *d, size_t argc,
                  struct kvd_buf *out)
{
    if ((d->arity > 0 && argc != (size_t)d->arity) ||
        (d->arity < 0 && argc < (size_t)-d->arity)) {
        kvd_resp_error(out, "ERR wrong number of arguments for '%s' command",
                       d->name);
        return -1;
    }
    return 0;
}

void kvd_cmd_run(const struct kvd_cmd_def *d, struct kvd_exec *x,
                 size_t argc, const struct kvd_arg *argv)
{
    if (d->fn != NULL)
        d->fn(x, argc, argv);
}

int kvd_cmd_check(const struct kvd_cmd_def *d, size_t argc,
                  const struct kvd_arg *argv, struct kvd_buf *out)
{
    struct kvd_exec x = { NULL, 0, out };
    size_t before = out->len;
    if (!(d->flags & KVD_CMD_WRITE) || d->fn == NULL)
        return 0;
    d->fn(&x, argc, argv);
    return out->len == before ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* COMMAND                                                             */
/* ------------------------------------------------------------------ */

/* One entry as Redis 7 shapes it: name, arity, flags, first key, last
 * key, step, ACL categories, tips, key specs, subcommands. */
static void command_entry(struct kvd_buf *out, const struct kvd_cmd_def *d)
{
    kvd_resp_array(out, 10);
    kvd_resp_bulk_str(out, d->name);
    kvd_resp_int(out, d->arity);
    if (d->flags & KVD_CMD_WRITE) {
        kvd_resp_array(out, 1);
        kvd_resp_simple(out, "write");
    } else if (d->flags & KVD_CMD_READ) {
        kvd_resp_array(out, 2);
        kvd_resp_simple(out, "readonly");
        kvd_resp_simple(out, "fast");
    } else {
        kvd_resp_array(out, 1);
        kvd_resp_simple(out, "fast");
    }
    kvd_resp_int(out, d->first_key);
    kvd_resp_int(out, d->last_key);
    kvd_resp_int(out, d->key_step);
    for (int i = 0; i < 4; i++)
        kvd_resp_array(out, 0);
}

static void cmd_command(struct kvd_exec *x, size_t argc,
                        const struct kvd_arg *v)
{
    if (argc == 1) {
        kvd_resp_array(x->out, N_COMMANDS);
        for (size_t i = 0; i < N_COMMANDS; i++)
            command_entry(x->out, &COMMANDS[i]);
    } else if (kvd_arg_is(&v[1], "count") && argc == 2) {
        kvd_resp_int(x->out, (int64_t)N_COMMANDS);
    } else if (kvd_arg_is(&v[1], "info")) {
        kvd_resp_array(x->out, argc - 2);
        for (size_t i = 2; i < argc; i++) {
            const struct kvd_cmd_def *d = kvd_cmd_find(&v[i]);
            if (d == NULL)
                kvd_resp_null(x->out);
            else
                command_entry(x->out, d);
        }
    } else if (kvd_arg_is(&v[1], "docs")) {
        /* No documentation: an empty map (an empty array in RESP2), which
         * redis-cli takes as "no hints". */
        kvd_resp_array(x->out, 0);
    } else {
        kvd_resp_error(x->out, "ERR unknown subcommand '%.*s'. Try COMMAND "
                               "HELP.",
                       (int)(v[1].len > 64 ? 64 : v[1].len), v[1].p);
    }
}
